//! flowgate-harness
