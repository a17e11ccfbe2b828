//! flowgate-server: the reference Master Flow Orchestrator.

pub mod db;
pub mod flows;
