//! A client that only reads gets the store and the metadata index read-only: its fds of them
//! are `O_RDONLY` (mapping them writable fails) and a write through a blob it read faults in
//! the client, not in the store.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use vineyard_core::{IpcClient, ObjectID};

use vineyard_test_harness::TestServer;

/// Set in the children the tests below start: `<mode> <socket> <blob id>`.
const READER_CHILD: &str = "VINEYARD_TEST_READER_CHILD";

/// Memory files of a vineyard server this process holds: (fd, name, opened read-only).
fn vineyard_memory_fds() -> Vec<(i32, String, bool)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let name = target.to_string_lossy().into_owned();
        if !name.contains("vineyard-bulk") && !name.contains("vineyard-meta-index") {
            continue;
        }
        let fd: i32 = entry.file_name().to_string_lossy().parse().unwrap();
        // SAFETY: F_GETFL only reads the flags of an fd this process holds.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        found.push((fd, name, flags & libc::O_ACCMODE == libc::O_RDONLY));
    }
    found
}

/// Mappings of a vineyard server's memory files in this process: (name, writable).
fn vineyard_mappings() -> Vec<(String, bool)> {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|line| line.contains("vineyard-bulk") || line.contains("vineyard-meta-index"))
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields[5..].join(" "), fields[1].contains('w'))
        })
        .collect()
}

/// Whether `fd`'s file can be opened again for writing through `/proc/self/fd`.
fn reopens_writable(fd: i32) -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(format!("/proc/self/fd/{fd}"))
        .is_ok()
}

/// Whether `fd` can be mapped shared and writable.
fn maps_writable(fd: i32) -> bool {
    // SAFETY: a fresh mapping of one page, unmapped again at once; no memory is touched.
    unsafe {
        let address = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        );
        if address == libc::MAP_FAILED {
            return false;
        }
        libc::munmap(address, 4096);
        true
    }
}

/// The child half of the tests below.
#[test]
fn reader_child() {
    let Ok(arguments) = std::env::var(READER_CHILD) else {
        return;
    };
    let [mode, socket, id] = arguments.split(' ').collect::<Vec<_>>()[..] else {
        panic!("bad arguments {arguments}");
    };
    let client = IpcClient::connect(socket).unwrap();
    let id: ObjectID = id.parse().unwrap();
    let blob = client.get_blob(id).unwrap();
    let (_, _) = client.get_objects(&[id]).unwrap();
    match mode {
        "fds" => {
            let fds = vineyard_memory_fds();
            assert!(!fds.is_empty());
            for (fd, name, read_only) in fds {
                assert!(read_only, "{name} (fd {fd}) is open for writing");
                assert!(!maps_writable(fd), "{name} (fd {fd}) maps writable");
                assert!(!reopens_writable(fd), "{name} (fd {fd}) reopens writable");
            }
            let mappings = vineyard_mappings();
            assert!(
                mappings.iter().any(|(name, _)| name.contains("bulk"))
                    && mappings.iter().any(|(name, _)| name.contains("meta-index")),
                "{mappings:?}"
            );
            for (name, writable) in mappings {
                assert!(!writable, "{name} is mapped writable");
            }
            println!("READER FDS OK");
        }
        "write" => {
            // SAFETY: deliberately wrong: writes through the read-only mapping of a blob; the
            // test expects this process to die of SIGSEGV here.
            unsafe { std::ptr::write_volatile(blob.as_ptr() as *mut u8, 0xEE) };
            println!("THE WRITE WENT THROUGH");
        }
        "writer" => {
            let mut buffer = client.create_blob(64).unwrap();
            buffer.fill(9);
            let written = buffer.seal().unwrap();
            assert!(client
                .get_blob(written)
                .unwrap()
                .iter()
                .all(|&byte| byte == 9));
            // Read-write for the buffers it creates, read-only for what it reads.
            let mut modes: Vec<bool> = vineyard_memory_fds()
                .into_iter()
                .filter(|(_, name, _)| name.contains("bulk"))
                .map(|(_, _, read_only)| read_only)
                .collect();
            modes.sort();
            assert_eq!(modes, [false, true]);
            println!("WRITER FDS OK");
        }
        other => panic!("unknown mode {other}"),
    }
}

/// User `nobody`, which readers run as when the tests run as the superuser (who may reopen
/// any file for writing, whatever its mode).
const NOBODY: u32 = 65534;

fn run_child(mode: &str, server: &TestServer, id: ObjectID) -> std::process::Output {
    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        .args(["--exact", "read_only::reader_child", "--nocapture"])
        .env(
            READER_CHILD,
            format!("{mode} {} {id}", server.socket().display()),
        );
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } == 0 {
        use std::os::unix::fs::PermissionsExt;
        use std::os::unix::process::CommandExt;
        let directory = server.socket().parent().unwrap();
        std::fs::set_permissions(directory, std::fs::Permissions::from_mode(0o755)).unwrap();
        // SAFETY: setgroups/setgid/setuid are async-signal-safe; nothing else runs between
        // fork and exec.
        unsafe {
            child.pre_exec(|| {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(NOBODY) != 0
                    || libc::setuid(NOBODY) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    child.output().unwrap()
}

/// A server whose socket anyone may connect to (its readers may run as `nobody`).
fn open_server() -> TestServer {
    TestServer::builder()
        .config(|config| config.socket_mode = 0o666)
        .start()
}

#[test]
fn a_reader_holds_the_store_and_the_index_read_only() {
    let server = open_server();
    let id = server.client().put_bytes(&[5u8; 4096]).unwrap();
    let output = run_child("fds", &server, id);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("READER FDS OK"),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_write_through_a_read_blob_faults_in_the_reader() {
    let server = open_server();
    let writer = server.client();
    let id = writer.put_bytes(&[5u8; 4096]).unwrap();
    let output = run_child("write", &server, id);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGSEGV),
        "the reader was not stopped: {stdout}"
    );
    assert!(!stdout.contains("THE WRITE WENT THROUGH"));
    let blob = server.client().get_blob(id).unwrap();
    assert!(blob.iter().all(|&byte| byte == 5));
}

#[test]
fn a_writer_holds_the_store_writable_for_its_buffers() {
    let server = open_server();
    let id = server.client().put_bytes(&[5u8; 64]).unwrap();
    let output = run_child("writer", &server, id);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("WRITER FDS OK"),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
