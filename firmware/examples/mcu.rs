//! Minimal safety-MCU binary: proves the link decoder, monitor, SSM and watchdog link and fit
//! on a Cortex-M4F (thumbv7em-none-eabihf). Not a board support package:
//!
//! - a SysTick-based embassy time driver (1 kHz, `tick-hz-1_000`);
//! - a UART stub: a loopback "wire" that a Jetson stub task fills with real encoded frames,
//!   and a TX data register for the transition log;
//! - a controller stub: the robot state comes from a static, the scale goes to a register.
//!
//! Build: `cargo build -p a4mer-firmware --release --target thumbv7em-none-eabihf
//!         --example mcu --features mcu-example`
#![cfg_attr(target_os = "none", no_std, no_main)]

/// `cargo clippy --all-features` on the host reaches this file too: say what it is for.
#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("examples/mcu is firmware for thumbv7em-none-eabihf; build it with --target");
    std::process::exit(2);
}

#[cfg(target_os = "none")]
mod mcu {
    use core::cell::{Cell, RefCell};
    use core::fmt::Write;
    use core::panic::PanicInfo;
    use core::task::Waker;

    use a4mer_firmware::link::{
        ForecastStep, Header, LINK_JOINTS, LinkFrame, LinkReceiver, MAX_WIRE_LEN, ModelHealth, PersonForecast,
        encode_frame,
    };
    use a4mer_firmware::monitor::{Command, MonitorConfig, Transition};
    use a4mer_firmware::ssm::RobotState;
    use a4mer_firmware::watchdog::Watchdog;
    use cortex_m::peripheral::syst::SystClkSource;
    use cortex_m_rt::{entry, exception};
    use critical_section::Mutex;
    use embassy_executor::Executor;
    use embassy_time::{Duration, Instant, Timer};
    use embassy_time_driver::Driver;
    use embassy_time_queue_utils::Queue;
    use heapless::Deque;

    /// Core clock after reset (STM32F4 HSI).
    const CORE_CLOCK_HZ: u32 = 16_000_000;

    // ---- time driver -------------------------------------------------------------------------

    /// Counts SysTick interrupts (1 kHz) in 64 bits; the timer queue is checked on every tick.
    /// Simple rather than low-power: a real board would use a 32-bit timer with compare
    /// interrupts, but the watchdog's thresholds (tens of ms) do not need more.
    struct SysTickDriver {
        ticks: Mutex<Cell<u64>>,
        queue: Mutex<RefCell<Queue>>,
    }

    impl Driver for SysTickDriver {
        fn now(&self) -> u64 {
            critical_section::with(|cs| self.ticks.borrow(cs).get())
        }

        fn schedule_wake(&self, at: u64, waker: &Waker) {
            critical_section::with(|cs| {
                let mut queue = self.queue.borrow_ref_mut(cs);
                queue.schedule_wake(at, waker);
                // Wakes at once if `at` has already passed.
                queue.next_expiration(self.ticks.borrow(cs).get());
            });
        }
    }

    embassy_time_driver::time_driver_impl!(static DRIVER: SysTickDriver = SysTickDriver {
        ticks: Mutex::new(Cell::new(0)),
        queue: Mutex::new(RefCell::new(Queue::new())),
    });

    #[exception]
    fn SysTick() {
        critical_section::with(|cs| {
            let now = DRIVER.ticks.borrow(cs).get() + 1;
            DRIVER.ticks.borrow(cs).set(now);
            DRIVER.queue.borrow_ref_mut(cs).next_expiration(now);
        });
    }

    // ---- UART and controller stubs -----------------------------------------------------------

    /// The serial line between the Jetson stub and the safety task.
    static WIRE: Mutex<RefCell<Deque<u8, { 2 * MAX_WIRE_LEN }>>> = Mutex::new(RefCell::new(Deque::new()));

    /// USART1 data register of an STM32F4, standing in for the log UART's TX.
    const TX_DR: *mut u32 = 0x4001_1004 as *mut u32;
    /// A free word of the controller interface: where the scale factor goes.
    const SCALE_OUT: *mut u32 = 0x4001_1008 as *mut u32;

    struct LogUart;

    impl Write for LogUart {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            for b in s.bytes() {
                // SAFETY: stub MMIO write to a fixed peripheral register, no aliasing Rust data.
                unsafe { core::ptr::write_volatile(TX_DR, u32::from(b)) };
            }
            Ok(())
        }
    }

    fn log(t: Option<Transition>) {
        if let Some(t) = t {
            // A full TX stub never fails; a real UART would queue or drop, never block safety.
            let _ = writeln!(LogUart, "{t}");
        }
    }

    /// The robot state the controller reports (stub: a fixed pose, opaque to the optimizer).
    fn robot_state() -> RobotState {
        core::hint::black_box(RobotState {
            position_in_base_m: [0.4, 0.0, 0.8],
            programmed_speed_mps: 1.0,
        })
    }

    // ---- tasks -------------------------------------------------------------------------------

    /// Plays the Jetson: a person walking towards the robot, one frame every 33 ms.
    #[embassy_executor::task]
    async fn jetson_stub() {
        let mut out = [0u8; MAX_WIRE_LEN];
        let mut seq: u32 = 0;
        loop {
            seq = seq.wrapping_add(1);
            let x = 2500 - (seq % 200) as i16 * 10;
            let mut steps = heapless::Vec::new();
            for k in 0..6i16 {
                let step = ForecastStep {
                    spread_mm: 30 * k as u16,
                    joints_in_base_mm: [[x - 40 * k, 0, 1000]; LINK_JOINTS],
                };
                let _ = steps.push(step);
            }
            let mut people = heapless::Vec::new();
            let person = PersonForecast {
                track_id: 1,
                unseen_us: 0,
                reach_mm: [0; LINK_JOINTS],
                steps,
            };
            let _ = people.push(person);
            let frame = LinkFrame {
                header: Header {
                    session: 1,
                    seq,
                    sender_stamp_us: Instant::now().as_micros(),
                    pose_age_us: 20_000,
                },
                health: ModelHealth::Nominal,
                step_ms: 100,
                omitted: 0,
                people,
            };
            if let Ok(n) = encode_frame(&frame, &mut out) {
                critical_section::with(|cs| {
                    let mut wire = WIRE.borrow_ref_mut(cs);
                    for b in &out[..n] {
                        // A full line drops bytes, like a UART overrun.
                        let _ = wire.push_back(*b);
                    }
                });
            }
            Timer::after(Duration::from_millis(33)).await;
        }
    }

    /// The safety loop: drain the UART, decide, output the scale; wake at the next control tick
    /// (1 ms) or the next watchdog threshold, whichever is first.
    #[embassy_executor::task]
    async fn safety() {
        let Ok(mut wd) = Watchdog::new(MonitorConfig::default()) else {
            loop {
                // SAFETY: stub MMIO write. A bad built-in config means stop, forever.
                unsafe { core::ptr::write_volatile(SCALE_OUT, 0) };
                Timer::after(Duration::from_secs(1)).await;
            }
        };
        let mut rx = LinkReceiver::new();
        loop {
            while let Some(b) = critical_section::with(|cs| WIRE.borrow_ref_mut(cs).pop_front()) {
                if let Some(Ok(frame)) = rx.push(b) {
                    log(wd.on_frame(frame));
                }
            }
            let (command, t) = wd.command(&robot_state());
            log(t);
            let scale = match command {
                Command::Run { scale } | Command::Fallback { scale } => scale,
                Command::ProtectiveStop => 0.0,
            };
            // SAFETY: stub MMIO write to a fixed peripheral register.
            unsafe { core::ptr::write_volatile(SCALE_OUT, scale.to_bits()) };
            wd.sleep_until_change_or(Instant::now() + Duration::from_millis(1))
                .await;
        }
    }

    // ---- entry -------------------------------------------------------------------------------

    #[entry]
    fn main() -> ! {
        let Some(mut cp) = cortex_m::Peripherals::take() else {
            halt()
        };
        cp.SYST.set_clock_source(SystClkSource::Core);
        cp.SYST.set_reload(CORE_CLOCK_HZ / 1_000 - 1);
        cp.SYST.clear_current();
        cp.SYST.enable_interrupt();
        cp.SYST.enable_counter();

        let Some(executor) = cortex_m::singleton!(: Executor = Executor::new()) else {
            halt()
        };
        executor.run(|spawner| {
            spawner.spawn(safety().expect("safety task spawns once"));
            spawner.spawn(jetson_stub().expect("jetson stub spawns once"));
        })
    }

    /// Scale 0 and stop: what a real board does by driving its safe-torque-off output.
    fn halt() -> ! {
        cortex_m::interrupt::disable();
        // SAFETY: stub MMIO write to a fixed peripheral register.
        unsafe { core::ptr::write_volatile(SCALE_OUT, 0) };
        loop {
            cortex_m::asm::wfi();
        }
    }

    #[panic_handler]
    fn panic(_: &PanicInfo) -> ! {
        halt()
    }
}
