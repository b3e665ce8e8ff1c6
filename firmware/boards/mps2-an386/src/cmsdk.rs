//! Register-level drivers for the two Arm CMSDK peripherals the image uses: the APB UART
//! (UART0, the Jetson link) and the APB watchdog. No maintained PAC or HAL covers the MPS2
//! FPGA images, and each block is a handful of registers (Cortex-M System Design Kit TRM,
//! DDI0479). Addresses and interrupt numbers are the AN386's (QEMU's `mps2-an386` matches).

use core::ptr::{read_volatile, write_volatile};

use cortex_m::interrupt::InterruptNumber;

/// UART0's registers, and its RX interrupt (external interrupt 0; TX is 1).
const UART0: usize = 0x4000_4000;
pub const UART0_RX_IRQ: i16 = 0;
/// The watchdog's registers.
const WDOG: usize = 0x4000_8000;

mod uart_reg {
    pub const DATA: usize = 0x00;
    pub const STATE: usize = 0x04;
    pub const CTRL: usize = 0x08;
    pub const INTCLEAR: usize = 0x0C;
    pub const BAUDDIV: usize = 0x10;

    pub const STATE_TXFULL: u32 = 1 << 0;
    pub const STATE_RXFULL: u32 = 1 << 1;
    pub const STATE_RXOVERRUN: u32 = 1 << 3;
    pub const CTRL_TXEN: u32 = 1 << 0;
    pub const CTRL_RXEN: u32 = 1 << 1;
    pub const CTRL_RXINTEN: u32 = 1 << 3;
    pub const INT_RX: u32 = 1 << 1;
}

mod wdog_reg {
    pub const LOAD: usize = 0x00;
    pub const CTRL: usize = 0x08;
    pub const INTCLR: usize = 0x0C;
    pub const LOCK: usize = 0xC00;

    pub const CTRL_INTEN: u32 = 1 << 0;
    pub const CTRL_RESEN: u32 = 1 << 1;
    pub const UNLOCK: u32 = 0x1ACC_E551;
}

fn read(base: usize, offset: usize) -> u32 {
    // SAFETY: `base` is one of this module's peripheral blocks and `offset` one of its
    // registers: a device register, aligned, never aliased by Rust data.
    unsafe { read_volatile((base + offset) as *const u32) }
}

fn write(base: usize, offset: usize, value: u32) {
    // SAFETY: as in `read`.
    unsafe { write_volatile((base + offset) as *mut u32, value) }
}

/// External interrupt number for the NVIC.
#[derive(Clone, Copy)]
pub struct Irq(pub u16);

// SAFETY: returns a valid external interrupt number of this device (the AN386 has 32).
unsafe impl InterruptNumber for Irq {
    fn number(self) -> u16 {
        self.0
    }
}

/// UART0: 8N1, no FIFO (one byte each way), which is why reception runs on its interrupt.
pub struct Uart0;

impl Uart0 {
    /// Sets the baud divider (`pclk / baud`, the hardware wants ≥ 16) and enables TX, RX and
    /// the RX interrupt.
    pub fn init(pclk_hz: u32, baud: u32) -> Self {
        write(UART0, uart_reg::BAUDDIV, (pclk_hz / baud).max(16));
        write(
            UART0,
            uart_reg::CTRL,
            uart_reg::CTRL_TXEN | uart_reg::CTRL_RXEN | uart_reg::CTRL_RXINTEN,
        );
        Self
    }

    /// UART0 for a handler that must write while the owner is interrupted (the watchdog's
    /// NMI, which never returns to it).
    pub fn steal() -> Self {
        Self
    }

    /// The byte waiting in the receive buffer, if any. The interrupt flag is cleared before the
    /// read, so a byte arriving right after it raises the interrupt again.
    pub fn take_rx() -> Option<u8> {
        if read(UART0, uart_reg::STATE) & uart_reg::STATE_RXFULL == 0 {
            return None;
        }
        write(UART0, uart_reg::INTCLEAR, uart_reg::INT_RX);
        Some(read(UART0, uart_reg::DATA) as u8)
    }

    /// Whether a byte was lost because the buffer was not read in time; clears the flag.
    pub fn take_overrun() -> bool {
        let state = read(UART0, uart_reg::STATE);
        if state & uart_reg::STATE_RXOVERRUN == 0 {
            return false;
        }
        write(UART0, uart_reg::STATE, uart_reg::STATE_RXOVERRUN);
        true
    }

    /// Stops taking bytes from the line (the RX buffer holds one, the sender's line the rest),
    /// until `resume_rx`: used when the receive queue is full.
    pub fn pause_rx() {
        let ctrl = read(UART0, uart_reg::CTRL);
        write(UART0, uart_reg::CTRL, ctrl & !uart_reg::CTRL_RXINTEN);
        // The flag stays set with the interrupt disabled; left set it would re-enter at once.
        write(UART0, uart_reg::INTCLEAR, uart_reg::INT_RX);
    }

    pub fn resume_rx() {
        let ctrl = read(UART0, uart_reg::CTRL);
        write(UART0, uart_reg::CTRL, ctrl | uart_reg::CTRL_RXINTEN);
    }

    /// Sends `bytes`, waiting at most `spins` polls of the TX buffer per byte. A stuck line
    /// must not stall the safety loop (the watchdog would reset the MCU): the rest of the frame
    /// is dropped and the receiver discards the torn frame by its CRC. Returns whether all of
    /// it went out.
    pub fn write_all(&mut self, bytes: &[u8], spins: u32) -> bool {
        for &b in bytes {
            let mut waited = 0;
            while read(UART0, uart_reg::STATE) & uart_reg::STATE_TXFULL != 0 {
                waited += 1;
                if waited > spins {
                    return false;
                }
            }
            write(UART0, uart_reg::DATA, u32::from(b));
        }
        true
    }
}

/// The CMSDK watchdog: counts `load` clocks down, raises its interrupt (wired to NMI on the
/// MPS2) at zero and reloads; at the second zero without a feed it resets the system.
pub struct HwWatchdog;

impl HwWatchdog {
    /// Starts the watchdog with a first timeout of `timeout_ms` and the reset at twice that,
    /// then locks its registers against stray writes.
    pub fn start(wdogclk_hz: u32, timeout_ms: u32) -> Self {
        write(WDOG, wdog_reg::LOCK, wdog_reg::UNLOCK);
        write(WDOG, wdog_reg::LOAD, wdogclk_hz / 1000 * timeout_ms);
        write(WDOG, wdog_reg::CTRL, wdog_reg::CTRL_INTEN | wdog_reg::CTRL_RESEN);
        write(WDOG, wdog_reg::LOCK, 0);
        Self
    }

    /// Reloads the counter and clears a pending first timeout.
    pub fn feed(&mut self) {
        write(WDOG, wdog_reg::LOCK, wdog_reg::UNLOCK);
        write(WDOG, wdog_reg::INTCLR, 1);
        write(WDOG, wdog_reg::LOCK, 0);
    }
}
