//! Interop: runit's sv and daemontools' svc/svstat/svok drive our runsv.
