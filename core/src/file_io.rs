//! Files read straight into memory and written straight from it, in [`PIECE`]-byte pieces
//! by a few threads at once, each piece's CRC-32C taken while its bytes are hot and the
//! pieces' CRCs combined per file. Spilling (a blob's file read back into the arena) and
//! local saves and loads use it: one copy between the page cache and the store's memory, no
//! buffer between, and both cores busy.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;

/// Bytes of one piece.
pub const PIECE: usize = 16 << 20;

/// Most threads one [`run`] uses.
pub const MAX_THREADS: usize = 4;

/// One transfer between memory and a file, starting at a byte of the file.
pub enum Transfer<'a> {
    /// Writes these bytes to the file from this offset.
    Write(&'a File, u64, &'a [u8]),
    /// Fills these bytes from the file from this offset (it must hold as many there).
    Read(&'a File, u64, &'a mut [u8]),
}

impl<'a> Transfer<'a> {
    /// The file, where the transfer starts in it, and the transfer's memory cut in pieces.
    fn into_pieces(self) -> (&'a File, u64, Vec<PieceMemory<'a>>) {
        match self {
            Transfer::Write(file, start, bytes) => (
                file,
                start,
                bytes.chunks(PIECE).map(PieceMemory::From).collect(),
            ),
            Transfer::Read(file, start, bytes) => (
                file,
                start,
                bytes.chunks_mut(PIECE).map(PieceMemory::Into).collect(),
            ),
        }
    }
}

/// One piece of one transfer.
struct Piece<'a> {
    transfer: usize,
    number: usize,
    file: &'a File,
    /// Where the piece's transfer starts in the file.
    start: u64,
    memory: PieceMemory<'a>,
}

enum PieceMemory<'a> {
    From(&'a [u8]),
    Into(&'a mut [u8]),
}

impl Piece<'_> {
    /// Moves the piece's bytes; their CRC-32C.
    fn move_bytes(&mut self) -> std::io::Result<u32> {
        let offset = self.start + (self.number * PIECE) as u64;
        match &mut self.memory {
            PieceMemory::From(bytes) => {
                let crc = crc32c::crc32c(bytes);
                self.file.write_all_at(bytes, offset)?;
                Ok(crc)
            }
            PieceMemory::Into(bytes) => {
                self.file.read_exact_at(bytes, offset)?;
                Ok(crc32c::crc32c(bytes))
            }
        }
    }

    fn len(&self) -> usize {
        match &self.memory {
            PieceMemory::From(bytes) => bytes.len(),
            PieceMemory::Into(bytes) => bytes.len(),
        }
    }
}

/// The pieces of one transfer done: (number, CRC-32C, length) each.
type PieceCrcs = Vec<(usize, u32, usize)>;

/// What the threads of one [`run`] are told and asked.
pub struct Hooks<'h, E> {
    /// Asked before each piece; an error stops the piece's transfer (cancellation).
    pub before: &'h (dyn Fn() -> Result<(), E> + Sync),
    /// Told the bytes of each piece done (progress).
    pub done: &'h (dyn Fn(u64) + Sync),
    /// Turns an I/O error of the transfer with this index into the caller's error.
    pub failed: &'h (dyn Fn(usize, std::io::Error) -> E + Sync),
}

/// Runs the transfers on up to `threads` threads (at most [`MAX_THREADS`] and the cores
/// there are), each thread taking the next piece of any transfer until none is left. Returns,
/// for each transfer in order, the CRC-32C of its bytes, or the first error of its pieces.
pub fn run<E: Send>(
    transfers: Vec<Transfer<'_>>,
    threads: usize,
    hooks: &Hooks<'_, E>,
) -> Vec<Result<u32, E>> {
    let count = transfers.len();
    let mut pieces = Vec::new();
    for (index, transfer) in transfers.into_iter().enumerate() {
        let (file, start, memories) = transfer.into_pieces();
        pieces.extend(
            memories
                .into_iter()
                .enumerate()
                .map(|(number, memory)| Piece {
                    transfer: index,
                    number,
                    file,
                    start,
                    memory,
                }),
        );
    }
    let threads = threads
        .min(MAX_THREADS)
        .min(std::thread::available_parallelism().map_or(1, |n| n.get()))
        .min(pieces.len())
        .max(1);
    let queue = Mutex::new(pieces.into_iter());
    let next = || queue.lock().unwrap_or_else(|e| e.into_inner()).next();
    let work = || {
        let mut outcomes = Vec::new();
        while let Some(mut piece) = next() {
            let outcome = (hooks.before)().and_then(|()| {
                piece
                    .move_bytes()
                    .map_err(|error| (hooks.failed)(piece.transfer, error))
            });
            if outcome.is_ok() {
                (hooks.done)(piece.len() as u64);
            }
            outcomes.push((piece.transfer, piece.number, piece.len(), outcome));
        }
        outcomes
    };
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut all = work();
        for helper in helpers {
            all.extend(helper.join().unwrap_or_default());
        }
        all
    });
    // Per transfer: its pieces' CRCs, or its first error.
    let mut per_transfer: Vec<Result<PieceCrcs, E>> = (0..count).map(|_| Ok(Vec::new())).collect();
    for (transfer, number, length, outcome) in outcomes {
        match (&mut per_transfer[transfer], outcome) {
            (Ok(crcs), Ok(crc)) => crcs.push((number, crc, length)),
            (slot @ Ok(_), Err(error)) => *slot = Err(error),
            (Err(_), _) => {}
        }
    }
    per_transfer
        .into_iter()
        .map(|pieces| {
            let mut pieces = pieces?;
            pieces.sort_unstable_by_key(|&(number, _, _)| number);
            Ok(combine(
                pieces.iter().map(|&(_, crc, length)| (crc, length)),
            ))
        })
        .collect()
}

/// Runs blocking work (a [`run`]) from async code: in place on a multi-threaded runtime's
/// worker (its other tasks move to other workers), as is elsewhere, and as is when nested
/// in another `run_blocking` (tokio's `block_in_place` allows that).
pub fn run_blocking<T>(work: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

/// The CRC-32C of consecutive pieces with the given CRCs and lengths (that of nothing for
/// none).
pub fn combine(pieces: impl IntoIterator<Item = (u32, usize)>) -> u32 {
    pieces
        .into_iter()
        .fold(None, |whole: Option<u32>, (crc, length)| {
            Some(match whole {
                None => crc,
                Some(whole) => crc32c::crc32c_combine(whole, crc, length),
            })
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_hooks() -> Hooks<'static, std::io::Error> {
        Hooks {
            before: &|| Ok(()),
            done: &|_| {},
            failed: &|_, error| error,
        }
    }

    #[test]
    fn combined_crcs_are_the_crc_of_the_whole() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let pieces = data.chunks(30_000).map(|c| (crc32c::crc32c(c), c.len()));
        assert_eq!(combine(pieces), crc32c::crc32c(&data));
        assert_eq!(combine([]), crc32c::crc32c(&[]));
    }

    #[test]
    fn files_written_and_read_back_in_pieces_keep_their_bytes_and_crcs() {
        let dir = tempfile::tempdir().unwrap();
        // Two pieces and a bit, one piece exactly, and an empty file.
        let sizes = [2 * PIECE + 12_345, PIECE, 0];
        let data: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(k, &n)| (0..n).map(|i| (i * 31 + k * 7) as u8).collect())
            .collect();
        let files: Vec<File> = (0..sizes.len())
            .map(|k| {
                let path = dir.path().join(k.to_string());
                File::options()
                    .create(true)
                    .truncate(true)
                    .read(true)
                    .write(true)
                    .open(path)
                    .unwrap()
            })
            .collect();
        let writes = files
            .iter()
            .zip(&data)
            .map(|(f, d)| Transfer::Write(f, 0, d))
            .collect();
        let written = run(writes, 2, &no_hooks());
        let mut back: Vec<Vec<u8>> = sizes.iter().map(|&n| vec![0; n]).collect();
        let reads = files
            .iter()
            .zip(&mut back)
            .map(|(f, b)| Transfer::Read(f, 0, b))
            .collect();
        let read = run(reads, 3, &no_hooks());
        for k in 0..sizes.len() {
            let expected = crc32c::crc32c(&data[k]);
            assert_eq!(*written[k].as_ref().unwrap(), expected);
            assert_eq!(*read[k].as_ref().unwrap(), expected);
            assert!(back[k] == data[k], "file {k} reads back what was written");
        }
    }

    #[test]
    fn transfers_start_where_they_are_told_in_a_shared_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared");
        let file = File::create(&path).unwrap();
        let first: Vec<u8> = (0..PIECE + 100).map(|i| (i % 253) as u8).collect();
        let second: Vec<u8> = (0..5000).map(|i| (i % 7) as u8 + 1).collect();
        let at = first.len() as u64 + 64;
        let writes = vec![
            Transfer::Write(&file, 0, &first),
            Transfer::Write(&file, at, &second),
        ];
        assert!(run(writes, 2, &no_hooks()).iter().all(Result::is_ok));
        let file = File::open(&path).unwrap();
        let (mut a, mut b) = (vec![0; 600], vec![0; second.len()]);
        let reads = vec![
            Transfer::Read(&file, PIECE as u64 - 500, &mut a),
            Transfer::Read(&file, at, &mut b),
        ];
        let read = run(reads, 2, &no_hooks());
        assert_eq!(read[1].as_ref().unwrap(), &crc32c::crc32c(&second));
        assert!(a[..] == first[PIECE - 500..] && b == second);
    }

    #[test]
    fn a_short_file_fails_its_read_alone_and_a_refusal_stops_the_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let short = File::create(dir.path().join("short")).unwrap();
        short.write_all_at(&[1; 100], 0).unwrap();
        let short = File::open(dir.path().join("short")).unwrap();
        let whole = File::create(dir.path().join("whole")).unwrap();
        whole.write_all_at(&[2; 10], 0).unwrap();
        let whole = File::open(dir.path().join("whole")).unwrap();
        let (mut a, mut b) = (vec![0; 200], vec![0; 10]);
        let got = run(
            vec![
                Transfer::Read(&short, 0, &mut a),
                Transfer::Read(&whole, 0, &mut b),
            ],
            2,
            &Hooks {
                before: &|| Ok(()),
                done: &|_| {},
                failed: &|index, error| format!("{index}: {error}"),
            },
        );
        assert!(got[0].as_ref().unwrap_err().starts_with("0: "), "{got:?}");
        assert_eq!(got[1], Ok(crc32c::crc32c(&[2; 10])));
        let refused = run(
            vec![Transfer::Read(&whole, 0, &mut b)],
            1,
            &Hooks {
                before: &|| Err("cancelled".to_string()),
                done: &|_| {},
                failed: &|_, error| error.to_string(),
            },
        );
        assert_eq!(refused, vec![Err("cancelled".to_string())]);
    }
}
