//! The documented exit codes, and the error type commands return.

/// Every gating check passed.
pub const OK: u8 = 0;
/// A gating check failed.
pub const FAILED: u8 = 1;
/// The command line, a scenario, a profile or a waiver file is invalid.
pub const INVALID: u8 = 2;
/// The target could not be reached, or another infrastructure error stopped the run.
pub const INFRA: u8 = 3;

/// An error that ends a command: its message goes to stderr, its code is the exit code.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub fn invalid(message: impl std::fmt::Display) -> Self {
        CliError {
            code: INVALID,
            message: message.to_string(),
        }
    }

    pub fn infra(message: impl std::fmt::Display) -> Self {
        CliError {
            code: INFRA,
            message: message.to_string(),
        }
    }
}

/// What every command returns: the exit code on a finished run.
pub type CmdResult = Result<u8, CliError>;
