//! Blob bytes on a Vineyard RPC connection: plain (the bytes as they are, blob after blob) or
//! compressed (what Vineyard's clients send and expect with `compress: true`).
//!
//! Compressed bytes are one zstd stream per request, cut into chunks, each an 8-byte
//! little-endian length and that many bytes. The sender flushes the stream at the end of every
//! blob (never ends the frame), so the chunks of a blob decompress to exactly its bytes and no
//! chunk holds bytes of two blobs; empty blobs send nothing. Vineyard's client reads each chunk
//! into a buffer of `ZSTD_CStreamOutSize()` bytes (a little over 128 KiB), so the chunks sent
//! here are at most [`MAX_SENT_CHUNK`].

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use zstd::stream::raw::{Decoder, Encoder, InBuffer, Operation, OutBuffer};

/// The largest compressed chunk sent.
pub(super) const MAX_SENT_CHUNK: usize = 128 << 10;
/// The largest compressed chunk accepted (Vineyard's clients send at most about 128 KiB).
pub(super) const MAX_RECEIVED_CHUNK: u64 = 16 << 20;
/// zstd's level for bytes sent: the fastest, since the point is the wire, not the ratio.
const LEVEL: i32 = 1;

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Decompresses the chunks of one request into blobs, one after the other.
pub(super) struct Inflater {
    decoder: Decoder<'static>,
    chunk: Vec<u8>,
}

impl Inflater {
    pub(super) fn new() -> io::Result<Inflater> {
        Ok(Inflater {
            decoder: Decoder::new()?,
            chunk: Vec::new(),
        })
    }

    /// Reads chunks until `blob` is full; more bytes than the blob holds is an error.
    pub(super) async fn receive<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
        blob: &mut [u8],
    ) -> io::Result<()> {
        let mut filled = 0;
        while filled < blob.len() {
            let length = stream.read_u64_le().await?;
            if length == 0 || length > MAX_RECEIVED_CHUNK {
                return Err(invalid(format!(
                    "a compressed chunk of {length} bytes: chunks hold 1 to {MAX_RECEIVED_CHUNK} \
                     bytes"
                )));
            }
            self.chunk.resize(length as usize, 0);
            stream.read_exact(&mut self.chunk).await?;
            let mut input = InBuffer::around(&self.chunk);
            while input.pos < input.src.len() {
                if filled == blob.len() {
                    return Err(too_long(blob.len()));
                }
                let mut output = OutBuffer::around(&mut blob[filled..]);
                self.decoder.run(&mut input, &mut output)?;
                filled += output.pos();
            }
        }
        // What the decoder still holds would belong to this blob too.
        let mut spare = [0u8; 1];
        let mut output = OutBuffer::around(&mut spare[..]);
        self.decoder.run(&mut InBuffer::around(&[]), &mut output)?;
        if output.pos() > 0 {
            return Err(too_long(blob.len()));
        }
        Ok(())
    }
}

fn too_long(size: usize) -> io::Error {
    invalid(format!(
        "the compressed bytes of a blob of {size} bytes decompress to more than that"
    ))
}

/// Compresses blobs into the chunks of one request.
pub(super) struct Deflater {
    encoder: Encoder<'static>,
    chunk: Vec<u8>,
}

impl Deflater {
    pub(super) fn new() -> io::Result<Deflater> {
        Ok(Deflater {
            encoder: Encoder::new(LEVEL)?,
            chunk: vec![0u8; MAX_SENT_CHUNK],
        })
    }

    /// Sends `blob` as chunks, flushing the stream at its end.
    pub(super) async fn send<S: AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        blob: &[u8],
    ) -> io::Result<()> {
        let mut input = InBuffer::around(blob);
        while input.pos < blob.len() {
            let mut output = OutBuffer::around(&mut self.chunk[..]);
            self.encoder.run(&mut input, &mut output)?;
            let produced = output.pos();
            write_chunk(stream, &self.chunk[..produced]).await?;
        }
        loop {
            let mut output = OutBuffer::around(&mut self.chunk[..]);
            let remaining = self.encoder.flush(&mut output)?;
            let produced = output.pos();
            write_chunk(stream, &self.chunk[..produced]).await?;
            if remaining == 0 {
                return Ok(());
            }
        }
    }
}

async fn write_chunk<S: AsyncWrite + Unpin>(stream: &mut S, chunk: &[u8]) -> io::Result<()> {
    if chunk.is_empty() {
        return Ok(());
    }
    stream.write_u64_le(chunk.len() as u64).await?;
    stream.write_all(chunk).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs() -> Vec<Vec<u8>> {
        let pattern: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let noise: Vec<u8> = (0..400_000u64)
            .map(|i| (i.wrapping_mul(6364136223846793005) >> 33) as u8)
            .collect();
        vec![pattern, b"x".to_vec(), noise]
    }

    #[tokio::test]
    async fn blobs_round_trip_compressed_in_small_chunks() {
        let blobs = blobs();
        let mut wire = Vec::new();
        let mut deflater = Deflater::new().unwrap();
        for blob in &blobs {
            deflater.send(&mut wire, blob).await.unwrap();
        }
        // Every chunk fits the buffer Vineyard's client reads it into.
        let mut at = 0;
        while at < wire.len() {
            let length = u64::from_le_bytes(wire[at..at + 8].try_into().unwrap()) as usize;
            assert!(length > 0 && length <= MAX_SENT_CHUNK, "{length}");
            at += 8 + length;
        }
        let mut reader = &wire[..];
        let mut inflater = Inflater::new().unwrap();
        for blob in &blobs {
            let mut received = vec![0u8; blob.len()];
            inflater.receive(&mut reader, &mut received).await.unwrap();
            assert!(received == *blob);
        }
        assert!(reader.is_empty());
    }

    #[tokio::test]
    async fn more_bytes_than_the_blob_is_an_error() {
        let mut wire = Vec::new();
        Deflater::new()
            .unwrap()
            .send(&mut wire, &[7u8; 1000])
            .await
            .unwrap();
        let mut small = vec![0u8; 10];
        let error = Inflater::new()
            .unwrap()
            .receive(&mut &wire[..], &mut small)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("more than that"), "{error}");
    }

    #[tokio::test]
    async fn bad_chunks_are_errors() {
        let mut zero = Vec::new();
        zero.extend_from_slice(&0u64.to_le_bytes());
        let mut blob = vec![0u8; 4];
        let error = Inflater::new()
            .unwrap()
            .receive(&mut &zero[..], &mut blob)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("chunks hold"), "{error}");
        let mut garbage = Vec::new();
        garbage.extend_from_slice(&5u64.to_le_bytes());
        garbage.extend_from_slice(b"hello");
        assert!(Inflater::new()
            .unwrap()
            .receive(&mut &garbage[..], &mut blob)
            .await
            .is_err());
        let truncated = &garbage[..9];
        let error = Inflater::new()
            .unwrap()
            .receive(&mut &truncated[..], &mut blob)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }
}
