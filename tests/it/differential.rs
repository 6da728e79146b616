//! Differential tests: one scenario through the reference runsv and ours.
