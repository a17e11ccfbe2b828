//! One module per subcommand.

pub mod load;
pub mod report;
pub mod run;
pub mod schema;
pub mod selfcheck;
pub mod serve;
pub mod tenant;
pub mod validate;
