//! UDP for svlogd's `u`/`U` lines: a new non-blocking socket per datagram,
//! as runit does (so the source port varies), closed right after.

use crate::errno::{cvt, Errno};
use crate::fd::Fd;

/// Why a datagram was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UdpError {
    /// No socket could be created.
    Socket(Errno),
    /// The send failed or was short.
    Send,
}

/// Sends one datagram to `addr:port` (IPv4).
pub fn send_udp(addr: [u8; 4], port: u16, data: &[u8]) -> Result<(), UdpError> {
    // SAFETY: plain syscall; the descriptor is owned by Fd below.
    let fd = cvt(unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })
    .map_err(UdpError::Socket)?;
    let sock = Fd::from_raw(fd);
    let sa = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(addr),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: data and sa are valid for the call; the length matches sa.
    let n = unsafe {
        libc::sendto(
            sock.raw(),
            data.as_ptr().cast(),
            data.len(),
            0,
            (&sa as *const libc::sockaddr_in).cast(),
            core::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if usize::try_from(n).ok() == Some(data.len()) {
        Ok(())
    } else {
        Err(UdpError::Send)
    }
}
