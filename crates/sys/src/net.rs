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

/// Sends one datagram, the concatenated `pieces` (at most 8), to
/// `addr:port` (IPv4).
pub fn send_udp(addr: [u8; 4], port: u16, pieces: &[&[u8]]) -> Result<(), UdpError> {
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
    let mut iov = [std::io::IoSlice::new(&[]); 8];
    let mut total = 0;
    for (slot, p) in iov.iter_mut().zip(pieces) {
        *slot = std::io::IoSlice::new(p);
        total += p.len();
    }
    let count = pieces.len().min(iov.len());
    // SAFETY: an all-zero msghdr is valid; the fields set below point to
    // sa and iov, which outlive the call.
    let mut mh: libc::msghdr = unsafe { core::mem::zeroed() };
    mh.msg_name = (&sa as *const libc::sockaddr_in).cast_mut().cast();
    mh.msg_namelen = core::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    mh.msg_iov = iov.as_ptr().cast_mut().cast();
    mh.msg_iovlen = count as _;
    // SAFETY: mh describes valid memory for the call (IoSlice is an iovec).
    let n = unsafe { libc::sendmsg(sock.raw(), &mh, 0) };
    if usize::try_from(n).ok() == Some(total) {
        Ok(())
    } else {
        Err(UdpError::Send)
    }
}
