//! Thin, safe wrappers over the Linux calls the store needs: memfd, fd passing, page population.

#[cfg(feature = "server")]
use std::ffi::CString;
#[cfg(feature = "server")]
use std::fs::File;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Creates an anonymous shared-memory file of `size` bytes (pages are committed on touch);
/// seals can be added to it (see [`seal_future_writes`]).
#[cfg(feature = "server")]
pub fn create_memfd(name: &str, size: u64) -> io::Result<File> {
    let name = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `name` is a valid NUL-terminated string; the returned fd is checked below.
    let fd =
        unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created by memfd_create and is owned by nobody else.
    let file = unsafe { File::from_raw_fd(fd) };
    file.set_len(size)?;
    Ok(file)
}

/// Forbids every new writable mapping of a memfd, and `write(2)` to it, through any fd (also
/// one reopened through `/proc`), while mappings made before keep writing: the writer maps
/// it first, then seals (`F_SEAL_FUTURE_WRITE`, Linux 5.1).
#[cfg(feature = "server")]
pub fn seal_future_writes(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: F_ADD_SEALS on an fd this process owns; no memory is passed.
    if unsafe {
        libc::fcntl(
            file.as_raw_fd(),
            libc::F_ADD_SEALS,
            libc::F_SEAL_FUTURE_WRITE,
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Takes every permission bit off a memfd but the owner's read: fds already open keep their
/// access, but no one (the superuser aside) can reopen it for writing through `/proc`, as
/// anyone holding an fd of it could otherwise (memfds are created with mode 0777).
#[cfg(feature = "server")]
pub fn forbid_reopening_for_writing(file: &File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o400))
}

/// A new read-only fd of the same file as `file` (through `/proc/self/fd`): a process that
/// receives it can map the file for reading only; mapping it writable fails with `EACCES`.
#[cfg(feature = "server")]
pub fn reopen_read_only(file: &File) -> io::Result<File> {
    use std::os::fd::AsRawFd;
    std::fs::OpenOptions::new()
        .read(true)
        .open(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// Makes a truncation past `ulimit -f` (a `--size` over the file size limit) fail with `EFBIG`
/// instead of killing the process with SIGXFSZ, as Python does at start-up.
#[cfg(feature = "server")]
pub fn ignore_file_size_signal() {
    // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// Raises the soft limit on open files to the hard limit: each client connection takes two
/// (its socket and its hold ring), and the usual soft limit of 1024 would cap clients at ~500.
#[cfg(feature = "server")]
pub fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write one valid rlimit struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// Bytes of control space for one fd (`CMSG_SPACE(sizeof(int))`).
fn fd_control_space() -> usize {
    // SAFETY: CMSG_SPACE is a pure size computation.
    unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize }
}

/// A message header over one iovec and a control buffer of `control_len` bytes.
///
/// # Safety
/// Both must stay valid (and unmoved) while the header is in use.
unsafe fn message_header(
    iov: &mut libc::iovec,
    control: *mut u8,
    control_len: usize,
) -> libc::msghdr {
    // SAFETY: an all-zero msghdr is a valid empty header.
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    message.msg_iov = iov;
    message.msg_iovlen = 1;
    message.msg_control = control.cast();
    message.msg_controllen = control_len as _;
    message
}

/// Sends one fd with a single dummy byte, as Vineyard's clients expect (`SCM_RIGHTS`).
///
/// Returns `WouldBlock` if a non-blocking socket is full.
#[cfg(feature = "server")]
pub fn send_fd(socket: RawFd, fd: RawFd) -> io::Result<()> {
    let mut byte = [0x14u8];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let space = fd_control_space();
    let mut control = vec![0u8; space];
    // SAFETY: all pointers refer to live local buffers of the stated sizes; the control
    // buffer has room for exactly one cmsghdr carrying one int.
    unsafe {
        let message = message_header(&mut iov, control.as_mut_ptr(), space);
        let header = libc::CMSG_FIRSTHDR(&message);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(header).cast::<RawFd>(), fd);
        loop {
            let sent = libc::sendmsg(socket, &message, libc::MSG_NOSIGNAL);
            if sent == 1 {
                return Ok(());
            }
            let error = io::Error::last_os_error();
            if sent < 0 && error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(if sent < 0 {
                error
            } else {
                io::Error::new(io::ErrorKind::WriteZero, "fd message not sent")
            });
        }
    }
}

/// One blocking `recvmsg` of up to `buffer.len()` bytes, with room for the one fd a read can
/// bring (Linux ends a read after a byte that carries fds). Retries on EINTR; the end of the
/// stream is an error (a reply was expected).
pub fn receive_with_fd(
    socket: RawFd,
    buffer: &mut [std::mem::MaybeUninit<u8>],
) -> io::Result<(usize, Option<OwnedFd>)> {
    let mut iov = libc::iovec {
        iov_base: buffer.as_mut_ptr().cast(),
        iov_len: buffer.len(),
    };
    let mut control = [0u64; 4];
    let space = fd_control_space();
    debug_assert!(space <= std::mem::size_of_val(&control));
    // SAFETY: the iovec and control buffer outlive the call and have the stated sizes; the fd
    // is read only from a well-formed SCM_RIGHTS header the kernel filled in.
    unsafe {
        let mut message = message_header(&mut iov, control.as_mut_ptr().cast(), space);
        let received = loop {
            let received = libc::recvmsg(socket, &mut message, libc::MSG_CMSG_CLOEXEC);
            if received < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            break received;
        };
        if received < 0 {
            return Err(io::Error::last_os_error());
        }
        if received == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        let header = libc::CMSG_FIRSTHDR(&message);
        let fd = (!header.is_null()
            && (*header).cmsg_level == libc::SOL_SOCKET
            && (*header).cmsg_type == libc::SCM_RIGHTS)
            .then(|| {
                OwnedFd::from_raw_fd(std::ptr::read_unaligned(
                    libc::CMSG_DATA(header).cast::<RawFd>(),
                ))
            });
        Ok((received as usize, fd))
    }
}

/// Peeks at the next byte without consuming it or blocking: `Ok(0)` means the peer hung up.
pub fn peek_byte(socket: RawFd) -> io::Result<usize> {
    let mut byte = [0u8];
    // SAFETY: the buffer is valid for one byte; MSG_PEEK leaves the data in the socket.
    let received = unsafe {
        libc::recv(
            socket,
            byte.as_mut_ptr().cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if received < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(received as usize)
    }
}

/// True if the peer of `socket` hung up (or the socket failed), even with bytes still to read.
pub fn peer_hung_up(socket: RawFd) -> bool {
    let mut poll = libc::pollfd {
        fd: socket,
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one valid pollfd; a zero timeout never blocks.
    let ready = unsafe { libc::poll(&mut poll, 1, 0) };
    ready > 0 && poll.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
}

/// True if `socket` has a byte to read, or hung up, or failed: a read would not block.
pub fn readable_now(socket: RawFd) -> bool {
    !matches!(peek_byte(socket), Err(error) if error.kind() == io::ErrorKind::WouldBlock)
}

/// Bytes waiting in a socket's receive queue (0 if it cannot be asked).
#[cfg(feature = "server")]
pub fn unread_bytes(socket: RawFd) -> usize {
    let mut queued: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int through the valid pointer.
    let result = unsafe { libc::ioctl(socket, libc::FIONREAD, &mut queued) };
    if result < 0 {
        0
    } else {
        queued as usize
    }
}

/// Faults in (and zero-fills where new) the pages of `[address, address + length)` for writing,
/// in one system call instead of one trap per page.
///
/// Best effort: kernels before 5.14 lack `MADV_POPULATE_WRITE` and the pages then fault on touch.
pub fn populate_write(address: *mut u8, length: usize) {
    const MADV_POPULATE_WRITE: libc::c_int = 23;
    let page = page_size();
    let start = address as usize & !(page - 1);
    let end = (address as usize + length).div_ceil(page) * page;
    if end > start {
        // SAFETY: the range lies within a live mapping owned by the caller; madvise only
        // changes residency, never contents.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, MADV_POPULATE_WRITE);
        }
    }
}

/// Gives the calling thread the lowest CPU priority (nice 19): background work such as the
/// store's prefault then runs only on time that requests, queries and transfers leave free.
/// Best effort: a refusal leaves the priority as it was.
#[cfg(feature = "server")]
pub fn lower_this_threads_priority() {
    // SAFETY: gettid has no preconditions; setpriority on this thread's id changes only the
    // scheduling weight of this thread (Linux keeps nice per thread).
    unsafe {
        let thread = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, thread, 19);
    }
}

/// Asks for transparent huge pages over a mapping of the store: one fault or page-table entry
/// per 2 MiB instead of per 4 KiB, which makes first writes into fresh memory several times
/// cheaper. Takes effect where the system allows huge pages for shared memory
/// (`/sys/kernel/mm/transparent_hugepage/shmem_enabled` is `advise`, `within_size` or
/// `always`); a no-op elsewhere.
pub fn advise_huge_pages(address: *mut u8, length: usize) {
    // SAFETY: the range is a live mapping owned by the caller; the advice never changes
    // contents, and a refusal (EINVAL on kernels without THP) is harmless.
    unsafe {
        libc::madvise(address.cast(), length, libc::MADV_HUGEPAGE);
    }
}

/// The system page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as usize
    } else {
        4096
    }
}

#[cfg(all(test, feature = "server"))]
mod tests {
    use super::*;

    /// This thread's nice value.
    fn nice() -> i32 {
        // SAFETY: getpriority reads this thread's scheduling weight and nothing else.
        unsafe {
            let thread = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::getpriority(libc::PRIO_PROCESS, thread)
        }
    }

    #[test]
    fn a_lowered_thread_runs_at_nice_19_and_leaves_the_others_alone() {
        let before = nice();
        let lowered = std::thread::spawn(|| {
            lower_this_threads_priority();
            nice()
        })
        .join()
        .unwrap();
        assert_eq!(lowered, 19);
        assert_eq!(nice(), before);
    }
}
