//! UDP for svlogd's `u`/`U` lines: a new non-blocking socket per datagram,
//! as runit does (so the source port varies), closed right after.

use crate::errno::{cvt, Errno};
use crate::fd::{Fd, Piece};

/// Why a datagram was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UdpError {
    /// No socket could be created.
    Socket(Errno),
    /// The send failed or was short.
    Send,
}

/// Sends one datagram, the concatenated `pieces`, to `addr:port` (IPv4).
pub fn send_udp(addr: [u8; 4], port: u16, pieces: &[Piece<'_>]) -> Result<(), UdpError> {
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
    let total: usize = pieces.iter().map(Piece::len).sum();
    // SAFETY: an all-zero msghdr is valid; the fields set below point to
    // sa and pieces, which outlive the call.
    let mut mh: libc::msghdr = unsafe { core::mem::zeroed() };
    mh.msg_name = (&sa as *const libc::sockaddr_in).cast_mut().cast();
    mh.msg_namelen = core::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    mh.msg_iov = pieces.as_ptr().cast_mut().cast();
    mh.msg_iovlen = pieces.len() as _;
    // SAFETY: mh describes valid memory for the call (Piece is an iovec).
    let n = unsafe { libc::sendmsg(sock.raw(), &mh, 0) };
    if usize::try_from(n).ok() == Some(total) {
        Ok(())
    } else {
        Err(UdpError::Send)
    }
}
