//! Kernel transmit timestamps: when the kernel handed a request's last byte
//! to the network device.
//!
//! A `write` on a TCP socket returns only after the kernel has run the whole
//! send path, and on loopback that includes the *receiver's* network stack
//! and waking the receiving thread, all in the sender's system call (on this
//! project's 2-vCPU VM, waking a sleeping peer costs ~15 µs there). Against a
//! real exchange the `write` ends when the packet is queued to the NIC. To
//! tell the two apart, a socket can ask for software transmit timestamps
//! (`SO_TIMESTAMPING` with `SOF_TIMESTAMPING_TX_SOFTWARE`): the kernel then
//! records `CLOCK_REALTIME` at the moment the device driver takes the packet
//! (on loopback: in `loopback_xmit`, before the receive side runs) and queues
//! it on the socket's error queue, keyed by the byte offset of the last byte
//! of the `write` (`SOF_TIMESTAMPING_OPT_ID` + `OPT_ID_TCP`: the first byte
//! written after enabling is offset 0).
//!
//! Contract: [`enable`] and [`drain`] are one system call each (`setsockopt`,
//! and `recvmsg(MSG_ERRQUEUE)` per queued stamp plus one that finds the queue
//! empty); nothing allocates, nothing blocks. [`parse_control`] is sans-I/O:
//! it reads a `recvmsg` control buffer from a byte slice and never panics.
//! While stamps are enabled the socket reports `EPOLLERR` whenever a stamp is
//! queued; its owner must [`drain`] them (queued stamps count against the
//! socket's receive buffer) and must not take that readiness for a failed
//! connection without asking `SO_ERROR`.

use std::io;
use std::os::fd::RawFd;

/// One transmit timestamp from the socket's error queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxStamp {
    /// Byte offset (mod 2³²) of the last byte of the `write` it belongs to,
    /// counted from the first byte written after [`enable`].
    pub key: u32,
    /// `CLOCK_REALTIME` in ns when the device took the packet.
    pub realtime_ns: i64,
}

/// What was wrong with a control buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxStampError {
    /// A control message header claims more bytes than the buffer holds.
    Truncated,
    /// A control message's length is smaller than its own header.
    BadLength,
    /// The buffer holds an extended error that is not a timestamp (a real
    /// socket error queued by the kernel, e.g. ICMP): its `errno`.
    NotATimestamp(u32),
    /// No timestamp and no key were found.
    Missing,
}

impl std::fmt::Display for TxStampError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TxStampError::Truncated => f.write_str("control message runs past the buffer"),
            TxStampError::BadLength => f.write_str("control message shorter than its header"),
            TxStampError::NotATimestamp(e) => write!(f, "queued socket error {e}, not a stamp"),
            TxStampError::Missing => f.write_str("no timestamp or no key in the control data"),
        }
    }
}

impl std::error::Error for TxStampError {}

/// `SOF_TIMESTAMPING_OPT_ID_TCP` (Linux ≥ 6.2; not in every libc release):
/// count from the next byte written rather than the oldest unacknowledged.
const OPT_ID_TCP: u32 = 1 << 16;
/// `SO_EE_ORIGIN_TIMESTAMPING`.
const ORIGIN_TIMESTAMPING: u8 = 4;

const HDR: usize = std::mem::size_of::<libc::cmsghdr>();
const ALIGN: usize = std::mem::size_of::<usize>();

const fn align(n: usize) -> usize {
    (n + ALIGN - 1) & !(ALIGN - 1)
}

fn read_usize(b: &[u8], at: usize) -> Option<usize> {
    let s = b.get(at..at + ALIGN)?;
    let mut a = [0u8; ALIGN];
    a.copy_from_slice(s);
    Some(usize::from_ne_bytes(a))
}

fn read_i32(b: &[u8], at: usize) -> Option<i32> {
    let s = b.get(at..at + 4)?;
    Some(i32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    read_i32(b, at).map(|v| v as u32)
}

fn read_i64(b: &[u8], at: usize) -> Option<i64> {
    let s = b.get(at..at + 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(i64::from_ne_bytes(a))
}

/// Reads one error-queue message's control data: the `SCM_TIMESTAMPING`
/// software stamp and the key from the `IP(V6)_RECVERR` extended error.
pub fn parse_control(buf: &[u8]) -> Result<TxStamp, TxStampError> {
    let mut at = 0usize;
    let mut ts: Option<i64> = None;
    let mut key: Option<u32> = None;
    while at + HDR <= buf.len() {
        let len = read_usize(buf, at).ok_or(TxStampError::Truncated)?;
        if len < HDR {
            return Err(TxStampError::BadLength);
        }
        let end = at.checked_add(len).ok_or(TxStampError::Truncated)?;
        if end > buf.len() {
            return Err(TxStampError::Truncated);
        }
        let level = read_i32(buf, at + ALIGN).ok_or(TxStampError::Truncated)?;
        let kind = read_i32(buf, at + ALIGN + 4).ok_or(TxStampError::Truncated)?;
        let data = buf.get(at + align(HDR)..end).unwrap_or(&[]);
        if level == libc::SOL_SOCKET && kind == libc::SCM_TIMESTAMPING {
            // struct scm_timestamping { struct timespec ts[3]; }: ts[0] is software.
            let sec = read_i64(data, 0).ok_or(TxStampError::Truncated)?;
            let nsec = read_i64(data, 8).ok_or(TxStampError::Truncated)?;
            ts = Some(sec.saturating_mul(1_000_000_000).saturating_add(nsec));
        } else if (level == libc::SOL_IP && kind == libc::IP_RECVERR)
            || (level == libc::SOL_IPV6 && kind == libc::IPV6_RECVERR)
        {
            // struct sock_extended_err { u32 errno; u8 origin, type, code, pad; u32 info, data; }
            let errno = read_u32(data, 0).ok_or(TxStampError::Truncated)?;
            let origin = *data.get(4).ok_or(TxStampError::Truncated)?;
            if origin != ORIGIN_TIMESTAMPING {
                return Err(TxStampError::NotATimestamp(errno));
            }
            key = Some(read_u32(data, 12).ok_or(TxStampError::Truncated)?);
        }
        at = at.saturating_add(align(len));
    }
    match (ts, key) {
        (Some(realtime_ns), Some(key)) => Ok(TxStamp { key, realtime_ns }),
        _ => Err(TxStampError::Missing),
    }
}

/// Asks the kernel for software transmit timestamps on a connected (or
/// connecting) TCP socket; offsets count from the next byte written.
pub fn enable(fd: RawFd) -> io::Result<()> {
    let flags: u32 = libc::SOF_TIMESTAMPING_TX_SOFTWARE
        | libc::SOF_TIMESTAMPING_SOFTWARE
        | libc::SOF_TIMESTAMPING_OPT_ID
        | libc::SOF_TIMESTAMPING_OPT_TSONLY
        | OPT_ID_TCP;
    // SAFETY: `flags` outlives the call and its size is passed; the kernel
    // only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPING,
            (&flags as *const u32).cast(),
            std::mem::size_of::<u32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Reads every queued transmit stamp, calling `f` for each; returns how many.
/// Entries that are not timestamps are skipped (the socket's `SO_ERROR`
/// still tells whether the connection failed).
pub fn drain(fd: RawFd, mut f: impl FnMut(TxStamp)) -> io::Result<usize> {
    let mut n = 0;
    loop {
        // u64 storage keeps the control buffer aligned for cmsghdr.
        let mut control = [0u64; 32];
        let mut iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        // SAFETY: msghdr is plain data; all-zero is a valid empty header.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: every pointer in `msg` refers to live locals sized as stated.
        let rc = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock => Ok(n),
                io::ErrorKind::Interrupted => continue,
                _ => Err(e),
            };
        }
        let len = (msg.msg_controllen as usize).min(std::mem::size_of_val(&control));
        let bytes: &[u8] = {
            let p = control.as_ptr().cast::<u8>();
            // SAFETY: `control` is live and at least `len` bytes long.
            unsafe { std::slice::from_raw_parts(p, len) }
        };
        if let Ok(s) = parse_control(bytes) {
            f(s);
            n += 1;
        }
    }
}

/// `CLOCK_REALTIME` now, in ns (the clock the kernel stamps with).
pub fn realtime_ns() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cmsg(level: i32, kind: i32, data: &[u8]) -> Vec<u8> {
        let len = align(HDR) + data.len();
        let mut v = Vec::new();
        v.extend_from_slice(&len.to_ne_bytes());
        v.extend_from_slice(&level.to_ne_bytes());
        v.extend_from_slice(&kind.to_ne_bytes());
        v.resize(align(HDR), 0);
        v.extend_from_slice(data);
        v.resize(align(len), 0);
        v
    }

    fn stamp(sec: i64, nsec: i64) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend_from_slice(&sec.to_ne_bytes());
        d.extend_from_slice(&nsec.to_ne_bytes());
        d.resize(48, 0);
        cmsg(libc::SOL_SOCKET, libc::SCM_TIMESTAMPING, &d)
    }

    fn ext_err(errno: u32, origin: u8, data: u32) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend_from_slice(&errno.to_ne_bytes());
        d.extend_from_slice(&[origin, 0, 0, 0]);
        d.extend_from_slice(&0u32.to_ne_bytes());
        d.extend_from_slice(&data.to_ne_bytes());
        cmsg(libc::SOL_IP, libc::IP_RECVERR, &d)
    }

    #[test]
    fn a_timestamp_and_its_key_are_read_in_either_order() {
        let mut a = stamp(1_700_000_000, 123);
        a.extend(ext_err(libc::ENOMSG as u32, ORIGIN_TIMESTAMPING, 299));
        let want = TxStamp {
            key: 299,
            realtime_ns: 1_700_000_000_000_000_123,
        };
        assert_eq!(parse_control(&a), Ok(want));
        let mut b = ext_err(libc::ENOMSG as u32, ORIGIN_TIMESTAMPING, 299);
        b.extend(stamp(1_700_000_000, 123));
        assert_eq!(parse_control(&b), Ok(want));
    }

    #[test]
    fn a_real_socket_error_is_not_taken_for_a_stamp() {
        let mut a = stamp(1, 2);
        a.extend(ext_err(libc::ECONNREFUSED as u32, 2, 0));
        assert_eq!(
            parse_control(&a),
            Err(TxStampError::NotATimestamp(libc::ECONNREFUSED as u32))
        );
    }

    #[test]
    fn missing_parts_and_bad_lengths_are_errors() {
        assert_eq!(parse_control(&[]), Err(TxStampError::Missing));
        assert_eq!(parse_control(&stamp(1, 2)), Err(TxStampError::Missing));
        let mut short = stamp(1, 2);
        short.truncate(short.len() - 40);
        assert_eq!(parse_control(&short), Err(TxStampError::Truncated));
        let mut bad = stamp(1, 2);
        bad[..ALIGN].copy_from_slice(&3usize.to_ne_bytes());
        assert_eq!(parse_control(&bad), Err(TxStampError::BadLength));
    }

    #[test]
    fn the_kernel_stamps_a_loopback_write_with_its_byte_offset() {
        use std::io::{Read, Write};
        use std::os::fd::AsRawFd;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut s, _) = l.accept().unwrap();
        enable(c.as_raw_fd()).unwrap();
        let before = realtime_ns();
        c.write_all(&[b'a'; 100]).unwrap();
        c.write_all(&[b'b'; 50]).unwrap();
        let after = realtime_ns();
        let mut got = Vec::new();
        // The stamps are queued inside the writes (loopback transmits at once).
        drain(c.as_raw_fd(), |t| got.push(t)).unwrap();
        assert_eq!(got.iter().map(|t| t.key).collect::<Vec<_>>(), vec![99, 149]);
        assert!(got
            .iter()
            .all(|t| t.realtime_ns >= before && t.realtime_ns <= after));
        let mut buf = [0u8; 150];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(drain(c.as_raw_fd(), |_| {}).unwrap(), 0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn arbitrary_control_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_control(&b);
        }

        #[test]
        fn a_mutated_valid_buffer_never_panics(cut in 0usize..120, flip in 0usize..120, x in any::<u8>()) {
            let mut a = stamp(5, 6);
            a.extend(ext_err(libc::ENOMSG as u32, ORIGIN_TIMESTAMPING, 7));
            if let Some(b) = a.get_mut(flip) { *b ^= x; }
            a.truncate(cut.min(a.len()));
            let _ = parse_control(&a);
        }
    }
}
