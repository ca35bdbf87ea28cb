//! The sealed object format: a header naming the object's wrapped data key, then the file as
//! STREAM chunks (`aead-stream`'s `StreamBE32` over AES-256-GCM).
//!
//! ```text
//! magic  "\x89RVSEAL\n"               8 bytes  (0x89 is never the first byte of text, a zip
//!                                              or an OLE file, so plaintext is told apart)
//! format version                      1 byte   (FORMAT_VERSION)
//! plaintext chunk size                4 bytes  big endian
//! STREAM nonce prefix                 7 bytes  random (the counter and last flag follow it)
//! wrapped key length                  2 bytes  big endian
//! wrapped data key                    Sealer::seal of the 32-byte data key: its own format
//!                                              version, the wrapping key id, nonce, tag
//! chunks                              each `chunk size` plaintext bytes + 16-byte tag; the last
//!                                     one (0 to `chunk size` bytes) sealed with STREAM's last flag
//! ```
//!
//! Every object has a fresh random data key. It is wrapped with the active `RIVVI_DATA_KEY` key,
//! bound (the [`Aad`]) to table `objects`, column `data_key` and a row id derived from the
//! object's storage key, so a header moved onto another object does not open. Each chunk's
//! associated data is the fixed header (magic to nonce) and the storage key, so an object copied
//! under another key fails its first chunk. The wrapped key is deliberately outside the chunks'
//! associated data: re-wrapping after a key rotation rewrites the header and copies the chunks
//! untouched, without decrypting them. Substituting another wrapped key gains nothing: it either
//! fails to open or yields a data key the chunks do not authenticate under.
//!
//! Truncation is detected: a cut inside a chunk fails that chunk's tag, a cut at a chunk boundary
//! leaves a last chunk that was not sealed with the last flag, and a cut inside the header is
//! [`EnvelopeError::Truncated`].

use std::io;
use std::pin::Pin;

use aead_stream::{DecryptorBE32, EncryptorBE32};
use aes_gcm::aead::{Generate, KeyInit};
use aes_gcm::{Aes256Gcm, Key};
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use rivvi_persistence::sealing::{Aad, SealError, Sealer};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The first bytes of every sealed object.
pub const MAGIC: [u8; 8] = *b"\x89RVSEAL\n";
/// The version byte after the magic.
pub const FORMAT_VERSION: u8 = 1;
/// Plaintext bytes per chunk for new objects: 64 KiB keeps the tag overhead at 0.02 % and the
/// memory of a reader or writer at two chunks.
pub const DEFAULT_CHUNK_SIZE: u32 = 64 * 1024;

/// Chunk sizes a header may name. The bounds keep a damaged header from making a reader
/// allocate gigabytes before the first tag fails.
const MIN_CHUNK_SIZE: u32 = 16;
const MAX_CHUNK_SIZE: u32 = 16 * 1024 * 1024;
const NONCE_PREFIX_LEN: usize = 7;
const TAG_LEN: usize = 16;
/// Magic, version, chunk size, nonce prefix: the part bound into every chunk.
const FIXED_LEN: usize = MAGIC.len() + 1 + 4 + NONCE_PREFIX_LEN;
/// The fixed part and the wrapped key length.
const PREAMBLE_LEN: usize = FIXED_LEN + 2;
/// A wrapped key is about 94 bytes (a 32-byte key id at most); anything far larger is damage.
const MAX_WRAPPED_LEN: usize = 512;
/// The most header bytes a reader needs to find the wrapping key id.
pub const MAX_HEADER_LEN: usize = PREAMBLE_LEN + MAX_WRAPPED_LEN;

/// The `table` of the wrapped data key's [`Aad`].
pub const AAD_TABLE: &str = "objects";
/// The `column` of the wrapped data key's [`Aad`].
pub const AAD_COLUMN: &str = "data_key";

/// Why an object could not be sealed or opened. Messages carry no plaintext or key material.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    // stored data
    #[error("sealed object is cut short in its header")]
    Truncated,
    #[error("sealed object header is malformed: {0}")]
    Malformed(&'static str),
    #[error("sealed object has unsupported format version {0}")]
    UnsupportedVersion(u8),
    /// The wrapped data key did not open: an unknown key id, the header of another object, or
    /// changed bytes.
    #[error("sealed object data key does not open: {0}")]
    DataKey(#[source] SealError),
    /// A chunk failed authentication: changed bytes, a cut at a chunk boundary, or an object
    /// copied under another key.
    #[error("sealed object chunk {0} failed authentication (changed, cut short, or moved)")]
    Inauthentic(u64),

    // internal
    #[error("sealing the object's data key failed: {0}")]
    Wrap(#[source] SealError),
    #[error("the system random number generator failed")]
    Random,
    #[error("the object has more chunks than STREAM can count")]
    TooLong,
}

/// The row id of an object's wrapped data key: derived from the storage key, so nothing needs
/// storing beside the object and a header copied to another key does not open there.
pub fn row_id(key: &str) -> Uuid {
    let digest = Sha256::new().chain_update(b"rivvi-object-key\0").chain_update(key.as_bytes()).finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

fn key_aad(key: &str) -> Aad<'_> {
    Aad { table: AAD_TABLE, column: AAD_COLUMN, row_id: row_id(key) }
}

/// A parsed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub chunk_size: u32,
    nonce: [u8; NONCE_PREFIX_LEN],
    /// [`Sealer::seal`] output: its format version, the wrapping key id, nonce, ciphertext, tag.
    wrapped_key: Vec<u8>,
}

/// What the first bytes of an object say.
#[derive(Debug, PartialEq, Eq)]
pub enum Peek {
    /// Not our magic: a plaintext object written before sealing.
    Plaintext,
    /// Our magic, but the header needs more bytes than given.
    NeedMore,
    /// A whole header of `len` bytes.
    Sealed { header: Header, len: usize },
}

impl Header {
    /// Parses the header at the start of `bytes`. `complete` says `bytes` is the whole object,
    /// so a short sealed header is [`EnvelopeError::Truncated`] rather than [`Peek::NeedMore`].
    pub fn peek(bytes: &[u8], complete: bool) -> Result<Peek, EnvelopeError> {
        let magic_seen = bytes.len().min(MAGIC.len());
        if bytes[..magic_seen] != MAGIC[..magic_seen] {
            return Ok(Peek::Plaintext);
        }
        if bytes.len() < MAGIC.len() {
            // A tiny plaintext file that happens to begin like the magic.
            return Ok(if complete { Peek::Plaintext } else { Peek::NeedMore });
        }
        let short = || if complete { Err(EnvelopeError::Truncated) } else { Ok(Peek::NeedMore) };
        let Some(preamble) = bytes.get(..PREAMBLE_LEN) else { return short() };
        let version = preamble[MAGIC.len()];
        if version != FORMAT_VERSION {
            return Err(EnvelopeError::UnsupportedVersion(version));
        }
        let at = MAGIC.len() + 1;
        let chunk_size =
            u32::from_be_bytes([preamble[at], preamble[at + 1], preamble[at + 2], preamble[at + 3]]);
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&chunk_size) {
            return Err(EnvelopeError::Malformed("chunk size out of range"));
        }
        let mut nonce = [0u8; NONCE_PREFIX_LEN];
        nonce.copy_from_slice(&preamble[at + 4..FIXED_LEN]);
        let wrapped_len = usize::from(u16::from_be_bytes([preamble[FIXED_LEN], preamble[FIXED_LEN + 1]]));
        if wrapped_len == 0 || wrapped_len > MAX_WRAPPED_LEN {
            return Err(EnvelopeError::Malformed("wrapped key length out of range"));
        }
        let len = PREAMBLE_LEN + wrapped_len;
        let Some(wrapped) = bytes.get(PREAMBLE_LEN..len) else { return short() };
        Ok(Peek::Sealed { header: Header { chunk_size, nonce, wrapped_key: wrapped.to_vec() }, len })
    }

    /// The id of the `RIVVI_DATA_KEY` key that wraps this object's data key.
    pub fn key_id(&self) -> Result<&str, EnvelopeError> {
        Sealer::key_id_of(&self.wrapped_key).map_err(EnvelopeError::DataKey)
    }

    /// The header as stored.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PREAMBLE_LEN + self.wrapped_key.len());
        out.extend_from_slice(&self.fixed());
        // `wrapped_key` came from `Sealer::seal` of 32 bytes or from a parse bounded by
        // MAX_WRAPPED_LEN, so it fits in two bytes.
        out.extend_from_slice(&u16::try_from(self.wrapped_key.len()).unwrap_or(u16::MAX).to_be_bytes());
        out.extend_from_slice(&self.wrapped_key);
        out
    }

    fn fixed(&self) -> [u8; FIXED_LEN] {
        let mut fixed = [0u8; FIXED_LEN];
        fixed[..MAGIC.len()].copy_from_slice(&MAGIC);
        fixed[MAGIC.len()] = FORMAT_VERSION;
        fixed[MAGIC.len() + 1..MAGIC.len() + 5].copy_from_slice(&self.chunk_size.to_be_bytes());
        fixed[MAGIC.len() + 5..].copy_from_slice(&self.nonce);
        fixed
    }

    /// The associated data of every chunk of the object stored under `key`.
    fn chunk_aad(&self, key: &str) -> Vec<u8> {
        let mut aad = Vec::with_capacity(FIXED_LEN + key.len());
        aad.extend_from_slice(&self.fixed());
        aad.extend_from_slice(key.as_bytes());
        aad
    }

    fn data_key(&self, sealer: &Sealer, key: &str) -> Result<Key<Aes256Gcm>, EnvelopeError> {
        let opened = sealer.open(&key_aad(key), &self.wrapped_key).map_err(EnvelopeError::DataKey)?;
        Key::<Aes256Gcm>::try_from(opened.as_slice()).map_err(|_| EnvelopeError::Malformed("data key length"))
    }

    /// The same header with the data key re-wrapped by the sealer's active key. The chunks that
    /// follow are unchanged.
    pub fn rewrapped(&self, sealer: &Sealer, key: &str) -> Result<Header, EnvelopeError> {
        let data_key = self.data_key(sealer, key)?;
        let wrapped_key = sealer.seal(&key_aad(key), data_key.as_slice()).map_err(EnvelopeError::Wrap)?;
        Ok(Header { wrapped_key, ..self.clone() })
    }
}

type Source<'a> = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + 'a>>;

/// Seals `plaintext` for storage under `key`: the header, then one item per chunk. Errors of
/// `plaintext` come out unchanged (the caller's own errors, such as a size limit, stay
/// recognizable); a sealing failure comes out as an `io::Error` wrapping [`EnvelopeError`].
pub fn seal<'a, S>(
    sealer: &Sealer,
    key: &str,
    plaintext: S,
    chunk_size: u32,
) -> Result<impl Stream<Item = io::Result<Bytes>> + Send + 'a, EnvelopeError>
where
    S: Stream<Item = io::Result<Bytes>> + Send + 'a,
{
    let chunk_size = chunk_size.clamp(MIN_CHUNK_SIZE, MAX_CHUNK_SIZE);
    let data_key = Key::<Aes256Gcm>::try_generate().map_err(|_| EnvelopeError::Random)?;
    let nonce = <[u8; NONCE_PREFIX_LEN]>::try_generate().map_err(|_| EnvelopeError::Random)?;
    let wrapped_key = sealer.seal(&key_aad(key), data_key.as_slice()).map_err(EnvelopeError::Wrap)?;
    let header = Header { chunk_size, nonce, wrapped_key };
    let encryptor = EncryptorBE32::from_aead(Aes256Gcm::new(&data_key), (&nonce).into());
    let state = Sealing {
        source: Box::pin(plaintext),
        buffer: BytesMut::new(),
        chunk: chunk_size as usize,
        aad: header.chunk_aad(key),
        header: Some(Bytes::from(header.encode())),
        encryptor: Some(encryptor),
        source_done: false,
    };
    Ok(futures_util::stream::try_unfold(state, Sealing::next))
}

struct Sealing<'a> {
    source: Source<'a>,
    buffer: BytesMut,
    chunk: usize,
    aad: Vec<u8>,
    header: Option<Bytes>,
    /// `None` once the last chunk is out.
    encryptor: Option<EncryptorBE32<Aes256Gcm>>,
    source_done: bool,
}

impl<'a> Sealing<'a> {
    async fn next(mut self) -> io::Result<Option<(Bytes, Sealing<'a>)>> {
        if let Some(header) = self.header.take() {
            return Ok(Some((header, self)));
        }
        loop {
            let Some(encryptor) = self.encryptor.as_mut() else { return Ok(None) };
            // Strictly more than a chunk buffered: this chunk is not the last one.
            if self.buffer.len() > self.chunk {
                let mut block = self.buffer.split_to(self.chunk).to_vec();
                encryptor.encrypt_next_in_place(&self.aad, &mut block).map_err(|_| sealing_failed())?;
                return Ok(Some((Bytes::from(block), self)));
            }
            if self.source_done {
                let mut block = self.buffer.split().to_vec();
                if let Some(encryptor) = self.encryptor.take() {
                    encryptor.encrypt_last_in_place(&self.aad, &mut block).map_err(|_| sealing_failed())?;
                }
                return Ok(Some((Bytes::from(block), self)));
            }
            match self.source.next().await {
                Some(chunk) => self.buffer.extend_from_slice(&chunk?),
                None => self.source_done = true,
            }
        }
    }
}

fn sealing_failed() -> io::Error {
    io::Error::other(EnvelopeError::TooLong)
}

/// Reads the header from the start of `raw`: the parsed header (or `None` for a plaintext
/// object) and the bytes read past it, which belong to the body.
pub async fn read_header<S>(raw: &mut S) -> Result<(Option<Header>, BytesMut), ReadError>
where
    S: Stream<Item = io::Result<Bytes>> + Unpin,
{
    let mut buffer = BytesMut::new();
    let mut complete = false;
    loop {
        match Header::peek(&buffer, complete)? {
            Peek::Plaintext => return Ok((None, buffer)),
            Peek::Sealed { header, len } => {
                let _ = buffer.split_to(len);
                return Ok((Some(header), buffer));
            }
            Peek::NeedMore if complete => return Err(EnvelopeError::Truncated.into()),
            Peek::NeedMore => match raw.next().await {
                Some(chunk) => buffer.extend_from_slice(&chunk.map_err(ReadError::Io)?),
                None => complete = true,
            },
        }
    }
}

/// A failure while reading an object: the backend's read, or the envelope.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("reading the stored object failed")]
    Io(#[source] io::Error),
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
}

/// Opens the body of an object sealed under `key` with `header`: `rest` is what came after the
/// header, `raw` the remaining bytes. Each item is one authenticated chunk of plaintext; an item
/// is only produced once its tag has verified, and the stream ends only after the chunk sealed
/// as the last one.
pub fn open<'a, S>(
    sealer: &Sealer,
    key: &str,
    header: &Header,
    rest: BytesMut,
    raw: S,
) -> Result<impl Stream<Item = Result<Bytes, ReadError>> + Send + 'a, EnvelopeError>
where
    S: Stream<Item = io::Result<Bytes>> + Send + 'a,
{
    let data_key = header.data_key(sealer, key)?;
    let decryptor = DecryptorBE32::from_aead(Aes256Gcm::new(&data_key), (&header.nonce).into());
    let state = Opening {
        source: Box::pin(raw),
        buffer: rest,
        // A sealed chunk is its plaintext and a tag.
        chunk: header.chunk_size as usize + TAG_LEN,
        aad: header.chunk_aad(key),
        decryptor: Some(decryptor),
        index: 0,
        source_done: false,
    };
    Ok(futures_util::stream::try_unfold(state, Opening::next))
}

struct Opening<'a> {
    source: Source<'a>,
    buffer: BytesMut,
    chunk: usize,
    aad: Vec<u8>,
    /// `None` once the last chunk has opened.
    decryptor: Option<DecryptorBE32<Aes256Gcm>>,
    index: u64,
    source_done: bool,
}

impl<'a> Opening<'a> {
    async fn next(mut self) -> Result<Option<(Bytes, Opening<'a>)>, ReadError> {
        loop {
            // The last chunk is everything left once the source ended, so nothing can follow it.
            let Some(decryptor) = self.decryptor.as_mut() else { return Ok(None) };
            if self.buffer.len() > self.chunk {
                let mut block = self.buffer.split_to(self.chunk).to_vec();
                decryptor
                    .decrypt_next_in_place(&self.aad, &mut block)
                    .map_err(|_| EnvelopeError::Inauthentic(self.index))?;
                self.index += 1;
                return Ok(Some((Bytes::from(block), self)));
            }
            if self.source_done {
                if self.buffer.len() < TAG_LEN {
                    return Err(EnvelopeError::Inauthentic(self.index).into());
                }
                let mut block = self.buffer.split().to_vec();
                if let Some(decryptor) = self.decryptor.take() {
                    decryptor
                        .decrypt_last_in_place(&self.aad, &mut block)
                        .map_err(|_| EnvelopeError::Inauthentic(self.index))?;
                }
                self.index += 1;
                return Ok(Some((Bytes::from(block), self)));
            }
            match self.source.next().await {
                Some(chunk) => self.buffer.extend_from_slice(&chunk.map_err(ReadError::Io)?),
                None => self.source_done = true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::TryStreamExt;
    use rivvi_persistence::sealing::Keyring;

    use super::*;

    const KEY: &str = "orgs/a/uploads/b";
    /// Small chunks, so short test data spans several.
    const CHUNK: u32 = 16;

    fn sealer(ids: &[&str]) -> Sealer {
        let keys = ids.iter().map(|id| ((*id).to_owned(), [id.len() as u8 + id.as_bytes()[0]; 32])).collect();
        Sealer::new(Keyring::from_keys(keys).unwrap())
    }

    fn text(len: usize) -> Vec<u8> {
        (0..len).map(|i| b"Jane Doe 1985-03-04 +13125550101\n"[i % 33]).collect()
    }

    /// `bytes` as a stream of uneven pieces (1, 2, 3, ... bytes), as a network delivers them.
    fn pieces(bytes: &[u8]) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
        let mut parts = Vec::new();
        let (mut at, mut len) = (0, 1);
        while at < bytes.len() {
            let end = (at + len).min(bytes.len());
            parts.push(Ok(Bytes::copy_from_slice(&bytes[at..end])));
            at = end;
            len = len % 7 + 1;
        }
        futures_util::stream::iter(parts)
    }

    async fn seal_all(sealer: &Sealer, key: &str, plaintext: &[u8]) -> Vec<u8> {
        let sealed = seal(sealer, key, pieces(plaintext), CHUNK).unwrap();
        let parts: Vec<Bytes> = sealed.try_collect().await.unwrap();
        parts.concat()
    }

    /// Opens a whole stored object: `Ok(None)` when it reads as plaintext (no header).
    async fn open_all(sealer: &Sealer, key: &str, stored: &[u8]) -> Result<Option<Vec<u8>>, ReadError> {
        let mut raw = pieces(stored).boxed();
        let (header, rest) = read_header(&mut raw).await?;
        let Some(header) = header else { return Ok(None) };
        let chunks: Vec<Bytes> = open(sealer, key, &header, rest, raw)?.try_collect().await?;
        Ok(Some(chunks.concat()))
    }

    fn header_len(stored: &[u8]) -> usize {
        match Header::peek(stored, true).unwrap() {
            Peek::Sealed { len, .. } => len,
            other => panic!("not sealed: {other:?}"),
        }
    }

    #[tokio::test]
    async fn every_length_round_trips_across_chunk_boundaries() {
        let sealer = sealer(&["k1"]);
        for len in [0, 1, 15, 16, 17, 31, 32, 33, 48, 100, 1000] {
            let plaintext = text(len);

            let stored = seal_all(&sealer, KEY, &plaintext).await;

            let chunks = len / CHUNK as usize + 1 - usize::from(len > 0 && len % CHUNK as usize == 0);
            assert_eq!(stored.len(), header_len(&stored) + len + chunks.max(1) * TAG_LEN, "len {len}");
            assert_eq!(open_all(&sealer, KEY, &stored).await.unwrap(), Some(plaintext), "len {len}");
        }
    }

    #[tokio::test]
    async fn the_stored_bytes_hold_no_plaintext_and_name_the_wrapping_key() {
        let sealer = sealer(&["2025-01", "old"]);
        let plaintext = text(500);

        let stored = seal_all(&sealer, KEY, &plaintext).await;

        assert!(stored.starts_with(&MAGIC));
        assert_eq!(stored[MAGIC.len()], FORMAT_VERSION);
        assert!(!stored.windows(8).any(|w| w == b"Jane Doe" || w == b"+1312555"), "plaintext leaked");
        let Peek::Sealed { header, .. } = Header::peek(&stored, true).unwrap() else { panic!("not sealed") };
        assert_eq!(header.key_id().unwrap(), "2025-01");
        assert_eq!(header.chunk_size, CHUNK);
        // Two objects of the same bytes share nothing but the magic and layout.
        let again = seal_all(&sealer, KEY, &plaintext).await;
        assert_ne!(stored[header_len(&stored)..], again[header_len(&again)..]);
    }

    #[tokio::test]
    async fn changing_any_byte_after_the_magic_fails_to_open() {
        let sealer = sealer(&["k1"]);
        let plaintext = text(40);
        let stored = seal_all(&sealer, KEY, &plaintext).await;

        for at in 0..stored.len() {
            let mut changed = stored.clone();
            changed[at] ^= 0x01;

            let opened = open_all(&sealer, KEY, &changed).await;

            if at < MAGIC.len() {
                // Without the magic the bytes are taken for a plaintext object: the upload's
                // recorded SHA-256 is what rejects those (services::uploads).
                assert!(matches!(opened, Ok(None)), "byte {at}: {opened:?}");
            } else {
                assert!(opened.is_err(), "byte {at} changed, yet the object opened");
            }
        }
    }

    #[tokio::test]
    async fn a_cut_anywhere_fails_including_at_a_chunk_boundary() {
        let sealer = sealer(&["k1"]);
        let plaintext = text(3 * CHUNK as usize + 5);
        let stored = seal_all(&sealer, KEY, &plaintext).await;
        let header = header_len(&stored);
        let sealed_chunk = CHUNK as usize + TAG_LEN;

        for len in MAGIC.len()..stored.len() {
            let opened = open_all(&sealer, KEY, &stored[..len]).await;

            assert!(opened.is_err(), "cut to {len} bytes, yet the object opened");
        }
        // Exactly after the second chunk: both chunks verify, but neither carries the last flag.
        let at_boundary = open_all(&sealer, KEY, &stored[..header + 2 * sealed_chunk]).await;
        assert!(
            matches!(at_boundary, Err(ReadError::Envelope(EnvelopeError::Inauthentic(1)))),
            "{at_boundary:?}"
        );
        let in_header = open_all(&sealer, KEY, &stored[..header - 1]).await;
        assert!(matches!(in_header, Err(ReadError::Envelope(EnvelopeError::Truncated))), "{in_header:?}");
    }

    #[tokio::test]
    async fn bytes_appended_after_the_last_chunk_fail() {
        let sealer = sealer(&["k1"]);
        let mut stored = seal_all(&sealer, KEY, &text(20)).await;
        stored.extend_from_slice(b"extra");

        assert!(open_all(&sealer, KEY, &stored).await.is_err());
    }

    #[tokio::test]
    async fn an_object_copied_under_another_key_or_given_another_header_fails() {
        let sealer = sealer(&["k1"]);
        let first = seal_all(&sealer, KEY, &text(40)).await;
        let second = seal_all(&sealer, "orgs/a/uploads/c", &text(40)).await;
        let (first_header, second_header) = (header_len(&first), header_len(&second));

        let moved = open_all(&sealer, "orgs/a/uploads/c", &first).await;
        let mut swapped = first[..first_header].to_vec();
        swapped.extend_from_slice(&second[second_header..]);
        let swapped = open_all(&sealer, KEY, &swapped).await;

        assert!(
            matches!(moved, Err(ReadError::Envelope(EnvelopeError::DataKey(SealError::Inauthentic)))),
            "{moved:?}"
        );
        assert!(matches!(swapped, Err(ReadError::Envelope(EnvelopeError::Inauthentic(0)))), "{swapped:?}");
    }

    #[tokio::test]
    async fn a_rewrapped_header_opens_the_same_chunks_under_the_new_key_only() {
        let old = sealer(&["k1"]);
        let rotated = sealer(&["k2", "k1"]);
        let plaintext = text(50);
        let stored = seal_all(&old, KEY, &plaintext).await;
        let Peek::Sealed { header, len } = Header::peek(&stored, true).unwrap() else { panic!("not sealed") };

        let new_header = header.rewrapped(&rotated, KEY).unwrap();
        let mut rewrapped = new_header.encode();
        rewrapped.extend_from_slice(&stored[len..]);

        assert_eq!(new_header.key_id().unwrap(), "k2");
        assert_eq!(open_all(&rotated, KEY, &rewrapped).await.unwrap(), Some(plaintext.clone()));
        assert_eq!(open_all(&sealer(&["k2"]), KEY, &rewrapped).await.unwrap(), Some(plaintext));
        let with_old_ring = open_all(&old, KEY, &rewrapped).await;
        assert!(
            matches!(
                with_old_ring,
                Err(ReadError::Envelope(EnvelopeError::DataKey(SealError::UnknownKey(_))))
            ),
            "{with_old_ring:?}"
        );
    }

    #[tokio::test]
    async fn chunks_come_out_before_the_source_ends() {
        let sealer = sealer(&["k1"]);
        let stored = seal_all(&sealer, KEY, &text(100)).await;
        let header = header_len(&stored);
        // The header and two sealed chunks, then a source that never says more.
        let partial = Bytes::copy_from_slice(&stored[..header + 2 * (CHUNK as usize + TAG_LEN)]);
        let mut raw =
            futures_util::stream::iter([Ok(partial)]).chain(futures_util::stream::pending()).boxed();

        let (parsed, rest) = read_header(&mut raw).await.unwrap();
        let mut plaintext = open(&sealer, KEY, &parsed.unwrap(), rest, raw).unwrap().boxed();
        let first = tokio::time::timeout(Duration::from_secs(1), plaintext.next()).await;

        assert_eq!(first.unwrap().unwrap().unwrap().as_ref(), &text(100)[..CHUNK as usize]);
        // Sealing streams too: the header and first chunk leave before the plaintext ends.
        let source =
            futures_util::stream::iter([Ok(Bytes::from(text(40)))]).chain(futures_util::stream::pending());
        let mut sealed = seal(&sealer, KEY, source, CHUNK).unwrap().boxed();
        let header_out = tokio::time::timeout(Duration::from_secs(1), sealed.next()).await.unwrap();
        let chunk_out = tokio::time::timeout(Duration::from_secs(1), sealed.next()).await.unwrap();
        assert!(header_out.unwrap().unwrap().starts_with(&MAGIC));
        assert_eq!(chunk_out.unwrap().unwrap().len(), CHUNK as usize + TAG_LEN);
    }

    #[tokio::test]
    async fn the_callers_stream_error_comes_out_unchanged() {
        #[derive(Debug, thiserror::Error)]
        #[error("over the limit")]
        struct Limit;
        let sealer = sealer(&["k1"]);
        let source = futures_util::stream::iter([Ok(Bytes::from(text(40))), Err(io::Error::other(Limit))]);

        let result: Result<Vec<Bytes>, io::Error> =
            seal(&sealer, KEY, source, CHUNK).unwrap().try_collect().await;

        assert!(result.unwrap_err().downcast::<Limit>().is_ok());
    }

    #[test]
    fn a_damaged_header_is_refused_before_anything_is_allocated() {
        let mut header = MAGIC.to_vec();
        header.push(FORMAT_VERSION);
        header.extend_from_slice(&u32::MAX.to_be_bytes());
        header.extend_from_slice(&[0; NONCE_PREFIX_LEN]);
        header.extend_from_slice(&40u16.to_be_bytes());

        assert!(matches!(Header::peek(&header, false), Err(EnvelopeError::Malformed(_))));
        header[MAGIC.len()] = 9;
        assert!(matches!(Header::peek(&header, false), Err(EnvelopeError::UnsupportedVersion(9))));
        assert_eq!(Header::peek(b"First Name,Last Name", false).unwrap(), Peek::Plaintext);
        assert_eq!(Header::peek(b"PK\x03\x04", false).unwrap(), Peek::Plaintext);
        assert_eq!(Header::peek(&MAGIC[..3], false).unwrap(), Peek::NeedMore);
        assert_eq!(Header::peek(&MAGIC[..3], true).unwrap(), Peek::Plaintext);
        assert!(matches!(Header::peek(&MAGIC, true), Err(EnvelopeError::Truncated)));
    }
}
