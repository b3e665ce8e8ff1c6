//! What the MPS2 AN386 image and its emulation bench must agree on: the link's baud (hence the
//! monitor's latency allowance), the robot state the controller stub reports, and the memory
//! map. `no_std`: the image links it; the host bench (`examples/emulate.rs`) runs the same
//! monitor on the same constants to know which speed the image must decide.
#![no_std]

use a4mer_firmware::monitor::MonitorConfig;
use a4mer_firmware::ssm::RobotState;

/// The MPS2's system clock (FPGA reference, also QEMU's `mps2-an386` sysclk): the core,
/// SysTick, the APB UARTs and the watchdog all run on it.
pub const SYSCLK_HZ: u32 = 25_000_000;

/// Baud of the Jetson link on UART0: the rate at which two people fit 30 frames/s.
pub const LINK_BAUD: u32 = 921_600;

/// Code region (ZBT SSRAM1): where the image's code and read-only data load.
pub const CODE: core::ops::Range<u64> = 0x0000_0000..0x0040_0000;
/// Data region (ZBT SSRAM2/3): stack, `.data` and `.bss`.
pub const DATA: core::ops::Range<u64> = 0x2000_0000..0x2040_0000;

/// How long the safety loop may stall before the CMSDK watchdog's first timeout (its NMI
/// drives the stop output); it resets the core after a second one, i.e. at twice this.
pub const HW_WATCHDOG_MS: u32 = 50;

/// With no frame, no drop and no change for this long, the image sends a heartbeat decision.
pub const HEARTBEAT_MS: u64 = 100;

/// The monitor the image runs: defaults at the link's baud.
pub fn monitor_config() -> MonitorConfig {
    MonitorConfig::for_baud(LINK_BAUD)
}

/// The controller stub: a fixed tool point 0.8 m above the base, 0.4 m forward, programmed at
/// 1 m/s. A real board reads it from the robot controller's interface.
pub const ROBOT: RobotState = RobotState {
    position_in_base_m: [0.4, 0.0, 0.8],
    programmed_speed_mps: 1.0,
};

/// With the `stall-test` feature, when the safety loop stalls (emulation bench only).
pub const STALL_AT_MS: u64 = 1_000;
