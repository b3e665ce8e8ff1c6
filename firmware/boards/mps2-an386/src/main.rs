//! The safety MCU image for the MPS2 AN386 (Cortex-M4F), the board QEMU emulates as
//! `mps2-an386`: link frames arrive on UART0, the monitor and the SSM decide, and every
//! decision goes back on UART0's TX as a `Decision` frame. The CMSDK watchdog resets the MCU if
//! the safety loop stalls.
//!
//! Build: `cargo build -p a4mer-mcu-mps2-an386 --release --target thumbv7em-none-eabihf`
//! Run:   `scripts/mcu-emulated.sh` (QEMU, frames from the host, scenarios checked)
#![cfg_attr(target_os = "none", no_std, no_main)]

/// `cargo test`/`clippy --workspace` build this crate for the host too: say what it is for.
#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("a4mer-mcu-mps2-an386 is firmware for thumbv7em-none-eabihf; build it with --target");
    std::process::exit(2);
}

#[cfg(target_os = "none")]
mod cmsdk;
#[cfg(target_os = "none")]
mod systick;

#[cfg(target_os = "none")]
mod image {
    use core::cell::RefCell;
    use core::panic::PanicInfo;
    use core::sync::atomic::{AtomicU32, Ordering};

    use a4mer_firmware::link::decision::{Decision, FrameId, MAX_DECISION_WIRE_LEN, Trigger, encode_decision};
    use a4mer_firmware::link::{LinkCounters, LinkReceiver, MAX_WIRE_LEN};
    use a4mer_firmware::monitor::{Mode, Reason};
    use a4mer_firmware::watchdog::{Report, Watchdog};
    use a4mer_mcu_mps2_an386::{HEARTBEAT_MS, HW_WATCHDOG_MS, LINK_BAUD, ROBOT, SYSCLK_HZ, monitor_config};
    use cortex_m_rt::{entry, exception};
    use critical_section::Mutex;
    use embassy_executor::Executor;
    use embassy_time::{Duration, Instant};
    use heapless::Deque;

    use crate::cmsdk::{HwWatchdog, Irq, UART0_RX_IRQ, Uart0};
    use crate::systick;

    /// Bytes received and not yet decoded: two of the longest frames.
    const RX_QUEUE: usize = 2 * MAX_WIRE_LEN;
    static RX: Mutex<RefCell<Deque<u8, RX_QUEUE>>> = Mutex::new(RefCell::new(Deque::new()));

    /// The speed scale handed to the robot controller (f32 bits). The MPS2 has no controller
    /// interface; on a real board this is the safe-torque-off input and the scaling output.
    static SCALE_OUT: AtomicU32 = AtomicU32::new(0);

    /// Polls of a full TX buffer before a decision is cut short (≈ a few byte times).
    const TX_SPINS: u32 = 2_000;

    // ---- interrupts --------------------------------------------------------------------------

    /// The only external interrupt enabled is UART0 RX: move bytes into the queue. When it is
    /// full, stop taking the line instead of overwriting: the safety task resumes it.
    #[exception]
    unsafe fn DefaultHandler(irqn: i16) {
        if irqn != UART0_RX_IRQ {
            halt();
        }
        critical_section::with(|cs| {
            let mut queue = RX.borrow_ref_mut(cs);
            while !queue.is_full() {
                let Some(b) = Uart0::take_rx() else { break };
                // Cannot fail: the queue is not full.
                let _ = queue.push_back(b);
            }
            if queue.is_full() {
                Uart0::pause_rx();
            }
        });
    }

    /// The hardware watchdog's first timeout: the safety loop has not run for
    /// `HW_WATCHDOG_MS`. Stop the robot now and say so on the line; the watchdog resets the
    /// MCU at its second timeout.
    // SAFETY (cortex-m-rt asks for `unsafe`): the handler touches atomics and the UART's
    // registers only, and never returns, so it cannot break the invariants of the code it
    // interrupts.
    #[exception]
    unsafe fn NonMaskableInt() {
        SCALE_OUT.store(0, Ordering::SeqCst);
        let decision = Decision {
            seq: DECISION_SEQ.fetch_add(1, Ordering::SeqCst),
            at_us: Instant::now().as_micros(),
            trigger: Trigger::Watchdog,
            mode: Mode::ProtectiveStop,
            reason: Reason::Deadline,
            scale: 0.0,
            pose_age_us: None,
            frame: None,
            link: LinkCounters::default(),
        };
        let mut out = [0u8; MAX_DECISION_WIRE_LEN + 1];
        if let Ok(n) = encode_decision(&decision, &mut out[1..]) {
            // The leading delimiter ends a decision the stalled loop may have been sending.
            Uart0::steal().write_all(&out[..=n], TX_SPINS);
        }
        loop {
            cortex_m::asm::nop();
        }
    }

    /// The next received byte: from the queue, or, once it is empty, from the UART itself (a
    /// byte it held while reception was paused), taking the line again.
    fn next_byte() -> Option<u8> {
        critical_section::with(|cs| {
            if let Some(b) = RX.borrow_ref_mut(cs).pop_front() {
                return Some(b);
            }
            Uart0::resume_rx();
            Uart0::take_rx()
        })
    }

    // ---- decisions on the line ---------------------------------------------------------------

    /// Sequence number of the next decision, shared with the watchdog's interrupt.
    static DECISION_SEQ: AtomicU32 = AtomicU32::new(0);

    struct DecisionTx {
        uart: Uart0,
        last_at: Instant,
    }

    impl DecisionTx {
        fn send(
            &mut self,
            trigger: Trigger,
            wd: &Watchdog,
            report: &Report,
            frame: Option<FrameId>,
            rx: &LinkReceiver,
        ) {
            let decision = Decision {
                seq: DECISION_SEQ.fetch_add(1, Ordering::SeqCst),
                at_us: report.at_us,
                trigger,
                mode: wd.mode(),
                reason: wd.monitor().reason(),
                scale: report.command.scale(),
                pose_age_us: report.pose_age_us.map(|a| u32::try_from(a).unwrap_or(u32::MAX)),
                frame,
                link: *rx.counters(),
            };
            self.last_at = Instant::from_micros(report.at_us);
            let mut out = [0u8; MAX_DECISION_WIRE_LEN];
            // The buffer is sized for the widest decision, so encoding cannot fail; if it ever
            // did, the line shows a gap in `seq`.
            if let Ok(n) = encode_decision(&decision, &mut out) {
                self.uart.write_all(&out[..n], TX_SPINS);
            }
        }
    }

    // ---- the safety task ---------------------------------------------------------------------

    /// Receive, decide, report, feed the watchdog; wake at the next control tick (1 ms) or the
    /// next threshold of the frame's age, whichever is first.
    #[embassy_executor::task]
    async fn safety(uart: Uart0, mut hw_wdog: HwWatchdog) {
        let Ok(mut wd) = Watchdog::new(monitor_config()) else {
            // A bad built-in config: stop, and let the hardware watchdog reset the MCU.
            halt()
        };
        let mut rx = LinkReceiver::new();
        let mut tx = DecisionTx {
            uart,
            last_at: Instant::now(),
        };
        let mut frame = None;
        let report = wd.report(&ROBOT);
        tx.send(Trigger::Boot, &wd, &report, frame, &rx);
        loop {
            #[cfg(feature = "stall-test")]
            if Instant::now() >= Instant::from_millis(a4mer_mcu_mps2_an386::STALL_AT_MS) {
                // A hung loop, for the bench: interrupts still run, nothing feeds the watchdog.
                loop {
                    cortex_m::asm::nop();
                }
            }
            hw_wdog.feed();
            // Bounded, so a flooded line cannot keep the loop from its deadline checks.
            for _ in 0..RX_QUEUE {
                let Some(b) = next_byte() else { break };
                match rx.push(b) {
                    Some(Ok(f)) => {
                        frame = Some(FrameId {
                            session: f.header.session,
                            seq: f.header.seq,
                        });
                        wd.on_frame(f);
                        let report = wd.report(&ROBOT);
                        SCALE_OUT.store(report.command.scale().to_bits(), Ordering::SeqCst);
                        tx.send(Trigger::Frame, &wd, &report, frame, &rx);
                    }
                    Some(Err(_)) => {
                        let report = wd.report(&ROBOT);
                        tx.send(Trigger::Drop, &wd, &report, frame, &rx);
                    }
                    None => {}
                }
            }
            // A byte lost to an overrun corrupts its frame, which the receiver counts.
            let _ = Uart0::take_overrun();

            let report = wd.report(&ROBOT);
            SCALE_OUT.store(report.command.scale().to_bits(), Ordering::SeqCst);
            if report.transition.is_some() {
                tx.send(Trigger::Change, &wd, &report, frame, &rx);
            } else if Instant::from_micros(report.at_us) >= tx.last_at + Duration::from_millis(HEARTBEAT_MS) {
                tx.send(Trigger::Heartbeat, &wd, &report, frame, &rx);
            }
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
        let hw_wdog = HwWatchdog::start(SYSCLK_HZ, HW_WATCHDOG_MS);
        let uart = Uart0::init(SYSCLK_HZ, LINK_BAUD);
        systick::start(&mut cp.SYST, SYSCLK_HZ);
        // SAFETY: the handler (DefaultHandler) only touches the RX queue, in a critical section.
        unsafe { cortex_m::peripheral::NVIC::unmask(Irq(UART0_RX_IRQ as u16)) };

        let Some(executor) = cortex_m::singleton!(: Executor = Executor::new()) else {
            halt()
        };
        executor.run(|spawner| {
            spawner.spawn(safety(uart, hw_wdog).expect("the safety task spawns once"));
        })
    }

    /// Scale 0, then wait for the hardware watchdog's reset: what a real board does by driving
    /// its safe-torque-off output.
    fn halt() -> ! {
        cortex_m::interrupt::disable();
        SCALE_OUT.store(0, Ordering::SeqCst);
        loop {
            cortex_m::asm::wfi();
        }
    }

    #[panic_handler]
    fn panic(_: &PanicInfo) -> ! {
        halt()
    }
}
