//! What the command's integration tests share (a directory, so cargo builds no test of it).

pub(crate) mod checks;
pub(crate) mod env;
pub(crate) mod tunlab;
