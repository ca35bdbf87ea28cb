//! PHI sealed at rest: AES-256-GCM with a key id for rotation, and HMAC lookup keys.
//!
//! # Sealed value format
//! `0x01 (format version) || key id length (1 byte) || key id (ASCII) || 12-byte random nonce ||
//! ciphertext || 16-byte tag`. The associated data binds the value to where it is stored
//! (`table/column/row id`) and to its own header, so a value copied into another row or column,
//! or given another key id, fails to open instead of decrypting as someone else's data.
//!
//! # Keys
//! - `RIVVI_DATA_KEY`: `kid:base64,kid2:base64,...` (each key 32 bytes, standard or URL-safe
//!   base64). The first key seals; every key listed opens. To rotate, put the new key first and
//!   keep the old ones after it until every value sealed with them has been re-sealed
//!   ([`Sealer::key_id_of`] tells which key sealed a value). A bare `base64` without `kid:` is
//!   the key with id `1`.
//! - `RIVVI_INDEX_KEY`: one base64 key of 32 bytes for the HMAC-SHA256 lookup keys
//!   ([`IndexKeys`]). It cannot be rotated without recomputing every identity and phone key.
//! - Development only: when a variable is unset, a key is generated into the data directory
//!   (`dev-data-key`, `dev-index-key`, mode 0600) and reused on later starts. Production refuses
//!   to start without both variables (server configuration).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

/// The first byte of every sealed value.
pub const FORMAT_VERSION: u8 = 1;
/// The id a key given without `kid:` gets.
pub const DEFAULT_KEY_ID: &str = "1";
/// The id of a generated development data key.
pub const DEV_KEY_ID: &str = "dev";
/// Development key files under the data directory.
pub const DEV_DATA_KEY_FILE: &str = "dev-data-key";
pub const DEV_INDEX_KEY_FILE: &str = "dev-index-key";

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const MAX_KEY_ID_LEN: usize = 32;

/// Where a sealed value lives; bound into its authentication tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aad<'a> {
    /// Such as `patients`.
    pub table: &'a str,
    /// Such as `first_name_sealed`.
    pub column: &'a str,
    /// The id of the row holding the value.
    pub row_id: Uuid,
}

impl Aad<'_> {
    fn bytes(&self, header: &[u8]) -> Vec<u8> {
        // Table and column names are identifiers without `/`, and the id has a fixed shape, so
        // the encoding is unambiguous.
        let mut aad = Vec::with_capacity(header.len() + self.table.len() + self.column.len() + 40);
        aad.extend_from_slice(header);
        aad.extend_from_slice(self.table.as_bytes());
        aad.push(b'/');
        aad.extend_from_slice(self.column.as_bytes());
        aad.push(b'/');
        // Encoded in place: every value sealed or opened builds its associated data, and a
        // `to_string` here was an allocation and a trip through `fmt` per cell of an import.
        let mut id = [0u8; uuid::fmt::Hyphenated::LENGTH];
        aad.extend_from_slice(self.row_id.hyphenated().encode_lower(&mut id).as_bytes());
        aad
    }
}

/// Why a value could not be sealed or opened. Messages carry no plaintext or key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    // stored data
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed value has unsupported format version {0}")]
    UnsupportedVersion(u8),
    #[error("sealed value names unknown key id {0:?}")]
    UnknownKey(String),
    /// Wrong key, wrong table/column/row binding, or the bytes were changed.
    #[error("sealed value failed authentication")]
    Inauthentic,

    // internal
    #[error("value too long to seal")]
    TooLong,
    #[error("the system random number generator failed")]
    Random,
}

/// Why keys could not be loaded. Messages name the variable or file, never the key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("invalid {source_name}: {reason}")]
    Invalid { source_name: String, reason: String },
    #[error("{0} is not set (required outside development)")]
    Missing(&'static str),
    #[error("development key file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the system random number generator failed")]
    Random,
}

struct DataKey {
    id: String,
    cipher: Aes256Gcm,
}

/// The data keys: the first one seals, all of them open.
pub struct Keyring {
    keys: Vec<DataKey>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("Keyring").field("key_ids", &ids).finish()
    }
}

impl Keyring {
    /// Parses `kid:base64,kid2:base64` (or one bare `base64`); `source_name` names the variable in
    /// errors.
    pub fn parse(spec: &str, source_name: &str) -> Result<Self, KeyError> {
        let invalid = |reason: String| KeyError::Invalid { source_name: source_name.to_owned(), reason };
        let mut keys = Vec::new();
        for (index, entry) in spec.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                return Err(invalid(format!("key #{} is empty", index + 1)));
            }
            let (id, material) = match entry.split_once(':') {
                Some((id, material)) => (id.trim(), material.trim()),
                None => (DEFAULT_KEY_ID, entry),
            };
            check_key_id(id).map_err(|reason| invalid(format!("key #{}: {reason}", index + 1)))?;
            let bytes = decode_key(material).map_err(|reason| invalid(format!("key {id:?}: {reason}")))?;
            keys.push((id.to_owned(), bytes));
        }
        Self::from_keys(keys).map_err(invalid)
    }

    /// Builds a keyring from `(key id, key)` pairs, the active key first.
    pub fn from_keys(keys: Vec<(String, [u8; KEY_LEN])>) -> Result<Self, String> {
        if keys.is_empty() {
            return Err("no key given".into());
        }
        let mut ring = Vec::with_capacity(keys.len());
        for (id, bytes) in keys {
            check_key_id(&id)?;
            if ring.iter().any(|k: &DataKey| k.id == id) {
                return Err(format!("key id {id:?} appears twice"));
            }
            let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| "key is not 32 bytes".to_owned())?;
            ring.push(DataKey { id, cipher });
        }
        Ok(Keyring { keys: ring })
    }

    fn active(&self) -> Result<&DataKey, SealError> {
        // `from_keys` refuses an empty list; this is only a non-panicking way to say so.
        self.keys.first().ok_or(SealError::UnknownKey(String::new()))
    }

    fn find(&self, id: &str) -> Option<&DataKey> {
        self.keys.iter().find(|k| k.id == id)
    }
}

fn check_key_id(id: &str) -> Result<(), String> {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if id.is_empty() || id.len() > MAX_KEY_ID_LEN || !id.chars().all(valid_char) {
        return Err(format!(
            "key id {id:?} must be 1 to {MAX_KEY_ID_LEN} characters of A-Z, a-z, 0-9, '-', '_', '.'"
        ));
    }
    Ok(())
}

fn decode_key(text: &str) -> Result<[u8; KEY_LEN], String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let bytes = [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .ok_or_else(|| "not base64".to_owned())?;
    <[u8; KEY_LEN]>::try_from(bytes.as_slice())
        .map_err(|_| format!("decodes to {} bytes, expected {KEY_LEN}", bytes.len()))
}

/// Seals and opens PHI. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Sealer {
    ring: Arc<Keyring>,
}

impl Sealer {
    pub fn new(ring: Keyring) -> Self {
        Sealer { ring: Arc::new(ring) }
    }

    /// The id of the key new values are sealed with (stored beside sealed columns, such as
    /// `patients.key_id`, to find values to re-seal after a rotation).
    pub fn active_key_id(&self) -> &str {
        self.ring.keys.first().map_or("", |k| k.id.as_str())
    }

    /// Every key id of the ring, the active one first.
    pub fn key_ids(&self) -> Vec<&str> {
        self.ring.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// Encrypts `plaintext` with the active key, bound to `aad`. Fails only if the system random
    /// number generator fails or the value exceeds AES-GCM's 64 GiB limit.
    pub fn seal(&self, aad: &Aad<'_>, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let key = self.ring.active()?;
        let header = header(&key.id);
        let nonce = Nonce::try_generate().map_err(|_| SealError::Random)?;
        let ciphertext = key
            .cipher
            .encrypt(&nonce, Payload { msg: plaintext, aad: &aad.bytes(&header) })
            .map_err(|_| SealError::TooLong)?;
        let mut sealed = Vec::with_capacity(header.len() + NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&header);
        sealed.extend_from_slice(nonce.as_slice());
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Decrypts a value sealed by [`Sealer::seal`] with any key of the ring. A value sealed for
    /// another `aad`, or changed in any way, is [`SealError::Inauthentic`].
    pub fn open(&self, aad: &Aad<'_>, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let parsed = parse(sealed)?;
        let key = self.ring.find(parsed.key_id).ok_or_else(|| SealError::UnknownKey(parsed.key_id.into()))?;
        let nonce = Nonce::try_from(parsed.nonce).map_err(|_| SealError::Malformed)?;
        key.cipher
            .decrypt(&nonce, Payload { msg: parsed.ciphertext, aad: &aad.bytes(parsed.header) })
            .map_err(|_| SealError::Inauthentic)
    }

    /// [`Sealer::seal`] for text.
    pub fn seal_str(&self, aad: &Aad<'_>, plaintext: &str) -> Result<Vec<u8>, SealError> {
        self.seal(aad, plaintext.as_bytes())
    }

    /// [`Sealer::open`] for text sealed with [`Sealer::seal_str`].
    pub fn open_string(&self, aad: &Aad<'_>, sealed: &[u8]) -> Result<String, SealError> {
        String::from_utf8(self.open(aad, sealed)?).map_err(|_| SealError::Malformed)
    }

    /// [`Sealer::seal`] for a JSON value (sealed as its compact text).
    pub fn seal_json(&self, aad: &Aad<'_>, value: &serde_json::Value) -> Result<Vec<u8>, SealError> {
        self.seal(aad, value.to_string().as_bytes())
    }

    /// [`Sealer::open`] for a value sealed with [`Sealer::seal_json`].
    pub fn open_json(&self, aad: &Aad<'_>, sealed: &[u8]) -> Result<serde_json::Value, SealError> {
        serde_json::from_slice(&self.open(aad, sealed)?).map_err(|_| SealError::Malformed)
    }

    /// The id of the key that sealed `sealed`, without opening it.
    pub fn key_id_of(sealed: &[u8]) -> Result<&str, SealError> {
        parse(sealed).map(|p| p.key_id)
    }
}

fn header(key_id: &str) -> Vec<u8> {
    let mut header = Vec::with_capacity(2 + key_id.len());
    header.push(FORMAT_VERSION);
    // Key ids are at most MAX_KEY_ID_LEN (32) bytes, checked when the ring is built.
    header.push(u8::try_from(key_id.len()).unwrap_or(u8::MAX));
    header.extend_from_slice(key_id.as_bytes());
    header
}

struct Parsed<'a> {
    header: &'a [u8],
    key_id: &'a str,
    nonce: &'a [u8],
    ciphertext: &'a [u8],
}

fn parse(sealed: &[u8]) -> Result<Parsed<'_>, SealError> {
    let (&version, rest) = sealed.split_first().ok_or(SealError::Malformed)?;
    if version != FORMAT_VERSION {
        return Err(SealError::UnsupportedVersion(version));
    }
    let (&id_len, rest) = rest.split_first().ok_or(SealError::Malformed)?;
    let id_len = usize::from(id_len);
    if id_len == 0 || rest.len() < id_len + NONCE_LEN + TAG_LEN {
        return Err(SealError::Malformed);
    }
    let (id, rest) = rest.split_at(id_len);
    let key_id = std::str::from_utf8(id).map_err(|_| SealError::Malformed)?;
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    Ok(Parsed { header: &sealed[..2 + id_len], key_id, nonce, ciphertext })
}

/// What a lookup key stands for. Its name is hashed in first, so a phone key can never equal an
/// identity key of the same text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupPurpose {
    /// A patient's canonical `name + birth date + phone`.
    Identity,
    /// An E.164 phone number.
    Phone,
    /// A folded medical record number (`rivvi_domain::patient_identity::medical_record_number`).
    Mrn,
    /// A folded `first|last|birth date` (`rivvi_domain::patient_identity::name_and_birth_date`).
    NameBirthDate,
}

impl LookupPurpose {
    fn label(self) -> &'static [u8] {
        match self {
            LookupPurpose::Identity => b"identity",
            LookupPurpose::Phone => b"phone",
            LookupPurpose::Mrn => b"mrn",
            LookupPurpose::NameBirthDate => b"name_dob",
        }
    }
}

/// How a stored lookup key was computed (the `lookup_scheme` column beside every lookup key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupScheme {
    /// One HMAC key for every organization (before per-organization keys): the same person had
    /// the same key in every clinic. Only read, to re-key ([`OrgIndexKeys::rekey`]).
    Shared = 1,
    /// The organization's own HMAC key ([`IndexKeys::for_org`]).
    PerOrganization = 2,
}

impl LookupScheme {
    /// The value stored in `lookup_scheme` columns.
    pub fn code(self) -> i16 {
        self as i16
    }
}

/// HMAC-SHA256 lookup keys: equal inputs give equal keys, so sealed rows can be found by value
/// (a patient by identity, by phone) without storing the value in clear. Keys are only handed
/// out per organization ([`IndexKeys::for_org`]), so the same person has unrelated lookup keys in
/// two clinics and a copy of one clinic's rows cannot be joined with another's. Cheap to clone.
#[derive(Clone)]
pub struct IndexKeys {
    key: Arc<[u8; KEY_LEN]>,
    /// HMAC keyed with `key`, cloned for each value: keying hashes two blocks, which an import
    /// would otherwise repeat for every key of every row.
    mac: Hmac<Sha256>,
}

impl fmt::Debug for IndexKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IndexKeys(***)")
    }
}

impl IndexKeys {
    pub fn new(key: [u8; KEY_LEN]) -> Self {
        IndexKeys { mac: mac_with(&key), key: Arc::new(key) }
    }

    /// Parses one base64 key of 32 bytes; `source_name` names the variable in errors.
    pub fn parse(spec: &str, source_name: &str) -> Result<Self, KeyError> {
        decode_key(spec.trim())
            .map(Self::new)
            .map_err(|reason| KeyError::Invalid { source_name: source_name.to_owned(), reason })
    }

    /// The organization's lookup keys: HMAC with a key derived by HKDF-SHA256 from the index key
    /// and the organization id. Derive once per request or batch, not per value.
    pub fn for_org(&self, org_id: Uuid) -> OrgIndexKeys {
        let hkdf = hkdf::Hkdf::<Sha256>::new(Some(HKDF_SALT), self.key.as_slice());
        let mut org_key = [0u8; KEY_LEN];
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expansion cannot fail; the
        // fallback keeps this panic-free and would only make every lookup miss.
        let _ = hkdf.expand(org_id.as_bytes(), &mut org_key);
        OrgIndexKeys { shared: self.clone(), org: mac_with(&org_key) }
    }

    /// The [`LookupScheme::Shared`] key of `value`: the inner layer of every per-organization
    /// key, and what rows written before per-organization keys still hold until re-keyed.
    pub(crate) fn shared_key(&self, purpose: LookupPurpose, value: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(purpose.label());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex_tag(mac)
    }
}

/// HKDF salt for per-organization lookup keys; changing it changes every lookup key.
const HKDF_SALT: &[u8] = b"rivvi lookup keys v2";

/// The tag of `mac` in lower-case hex, as lookup keys are stored. Encoded into a fixed buffer:
/// `hex::encode` goes through a `char` iterator, which was a tenth of an import's own CPU time.
fn hex_tag(mac: Hmac<Sha256>) -> String {
    let mut digits = [0u8; 2 * KEY_LEN];
    // An HMAC-SHA256 tag is always 32 bytes: 64 digits fill the buffer exactly.
    let _ = hex::encode_to_slice(mac.finalize().into_bytes(), &mut digits);
    String::from_utf8_lossy(&digits).into_owned()
}

fn mac_with(key: &[u8; KEY_LEN]) -> Hmac<Sha256> {
    // HMAC pads a key shorter than the hash's 64-byte block with zeros, so the padded block is
    // the same key, and the fixed-size constructor cannot fail.
    let mut block = [0u8; 64];
    block[..KEY_LEN].copy_from_slice(key);
    <Hmac<Sha256> as KeyInit>::new(&block.into())
}

/// One organization's lookup keys (see [`IndexKeys::for_org`]).
///
/// A key is `HMAC(org key, purpose || 0 || shared key)`, where the shared key is the HMAC of the
/// value under the index key itself. The two layers let [`OrgIndexKeys::rekey`] move rows written
/// before per-organization keys from their stored key alone, without opening any sealed value.
#[derive(Clone)]
pub struct OrgIndexKeys {
    shared: IndexKeys,
    org: Hmac<Sha256>,
}

impl fmt::Debug for OrgIndexKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OrgIndexKeys(***)")
    }
}

impl OrgIndexKeys {
    /// The patient identity key (hex) of an already canonical `name + birth date + phone` string.
    pub fn identity_key(&self, canonical: &str) -> String {
        self.key(LookupPurpose::Identity, canonical)
    }

    /// The lookup key (hex) of an E.164 phone number.
    pub fn phone_key(&self, e164: &str) -> String {
        self.key(LookupPurpose::Phone, e164)
    }

    /// The lookup key (hex) of a folded medical record number.
    pub fn mrn_key(&self, folded_mrn: &str) -> String {
        self.key(LookupPurpose::Mrn, folded_mrn)
    }

    /// The lookup key (hex) of a folded `first|last|birth date`.
    pub fn name_dob_key(&self, name_and_birth_date: &str) -> String {
        self.key(LookupPurpose::NameBirthDate, name_and_birth_date)
    }

    fn key(&self, purpose: LookupPurpose, value: &str) -> String {
        self.rekey(purpose, &self.shared.shared_key(purpose, value))
    }

    /// The per-organization key of a value whose [`LookupScheme::Shared`] key is `shared`.
    pub fn rekey(&self, purpose: LookupPurpose, shared: &str) -> String {
        let mut mac = self.org.clone();
        mac.update(purpose.label());
        mac.update(&[0]);
        mac.update(shared.as_bytes());
        hex_tag(mac)
    }
}

/// Every key the backend needs for PHI. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Keys {
    pub sealer: Sealer,
    pub index: IndexKeys,
    /// Paths of development key files in use (empty when both keys came from the environment).
    pub development_files: Vec<PathBuf>,
}

impl Keys {
    /// Loads the data and index keys from their variables' values. A missing value is read from
    /// (or generated into) `dev_dir` when given (development), else it is an error.
    pub fn load(
        data_key: Option<&str>,
        index_key: Option<&str>,
        dev_dir: Option<&Path>,
    ) -> Result<Keys, KeyError> {
        let mut development_files = Vec::new();
        let ring = match data_key {
            Some(spec) => Keyring::parse(spec, "RIVVI_DATA_KEY")?,
            None => {
                let dir = dev_dir.ok_or(KeyError::Missing("RIVVI_DATA_KEY"))?;
                let path = dir.join(DEV_DATA_KEY_FILE);
                let spec = load_or_generate(&path, |key| format!("{DEV_KEY_ID}:{key}"))?;
                let ring = Keyring::parse(&spec, &path.display().to_string())?;
                development_files.push(path);
                ring
            }
        };
        let index = match index_key {
            Some(spec) => IndexKeys::parse(spec, "RIVVI_INDEX_KEY")?,
            None => {
                let dir = dev_dir.ok_or(KeyError::Missing("RIVVI_INDEX_KEY"))?;
                let path = dir.join(DEV_INDEX_KEY_FILE);
                let spec = load_or_generate(&path, |key| key.to_owned())?;
                let index = IndexKeys::parse(&spec, &path.display().to_string())?;
                development_files.push(path);
                index
            }
        };
        Ok(Keys { sealer: Sealer::new(ring), index, development_files })
    }

    /// The organization's lookup keys (see [`IndexKeys::for_org`]).
    pub fn lookup(&self, scope: &crate::scope::OrgScope) -> OrgIndexKeys {
        self.index.for_org(scope.org_id().as_uuid())
    }

    /// Fresh random keys held only in memory (tests and tools).
    pub fn generate() -> Result<Keys, KeyError> {
        let data = random_key()?;
        let index = random_key()?;
        let ring = Keyring::from_keys(vec![(DEFAULT_KEY_ID.to_owned(), data)])
            .map_err(|reason| KeyError::Invalid { source_name: "generated key".into(), reason })?;
        Ok(Keys { sealer: Sealer::new(ring), index: IndexKeys::new(index), development_files: Vec::new() })
    }
}

/// A new data key, as the entry `kid:base64` that [`Keyring::parse`] reads; the id is `prefix`
/// followed by the time, so ids sort by age.
pub fn new_key_entry(prefix: &str) -> Result<(String, String), KeyError> {
    let id = format!("{prefix}{}", chrono::Utc::now().format("%Y%m%d%H%M%S"));
    check_key_id(&id).map_err(|reason| KeyError::Invalid { source_name: "new key id".into(), reason })?;
    let material = base64::engine::general_purpose::STANDARD.encode(random_key()?);
    Ok((id.clone(), format!("{id}:{material}")))
}

/// Adds a new data key in front of the development key file under `dev_dir` (creating the file
/// when there is none), so it seals from the next start on while the older keys still open.
/// Returns the new key's id.
pub fn add_development_key(dev_dir: &Path) -> Result<String, KeyError> {
    let path = dev_dir.join(DEV_DATA_KEY_FILE);
    let io = |source| KeyError::Io { path: path.clone(), source };
    let existing = load_or_generate(&path, |key| format!("{DEV_KEY_ID}:{key}"))?;
    let (id, entry) = new_key_entry(DEV_KEY_ID)?;
    let spec = format!("{entry},{existing}");
    // Checked before it replaces the file: a key file that does not parse would lock the data out.
    Keyring::parse(&spec, &path.display().to_string())?;
    let temp = path.with_extension(format!("tmp-{}", Uuid::new_v4().simple()));
    write_private(&temp, spec.as_bytes()).map_err(io)?;
    std::fs::rename(&temp, &path).map_err(io)?;
    Ok(id)
}

fn random_key() -> Result<[u8; KEY_LEN], KeyError> {
    <[u8; KEY_LEN]>::try_generate().map_err(|_| KeyError::Random)
}

/// Reads the key file at `path`, or creates it (mode 0600) holding `format(new base64 key)`.
/// The file is published with a hard link, which fails when it exists: two processes starting
/// at once both end up reading the one that won.
fn load_or_generate(path: &Path, format: impl Fn(&str) -> String) -> Result<String, KeyError> {
    let io = |source| KeyError::Io { path: path.to_owned(), source };
    match std::fs::read_to_string(path) {
        Ok(text) => return Ok(text.trim().to_owned()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(io(err)),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let key = base64::engine::general_purpose::STANDARD.encode(random_key()?);
    let contents = format(&key);
    let temp = path.with_extension(format!("tmp-{}", Uuid::new_v4().simple()));
    write_private(&temp, contents.as_bytes()).map_err(io)?;
    let linked = std::fs::hard_link(&temp, path);
    let _ = std::fs::remove_file(&temp);
    match linked {
        Ok(()) => {
            tracing::warn!(
                path = %path.display(),
                "generated a DEVELOPMENT PHI key: data sealed with it is unreadable without this file"
            );
            Ok(contents)
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read_to_string(path).map(|text| text.trim().to_owned()).map_err(io)
        }
        Err(err) => Err(io(err)),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    // Readable by its owner only.
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> [u8; KEY_LEN] {
        [byte; KEY_LEN]
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn sealer(keys: &[(&str, u8)]) -> Sealer {
        Sealer::new(
            Keyring::from_keys(keys.iter().map(|(id, b)| (id.to_string(), key(*b))).collect()).unwrap(),
        )
    }

    fn aad(row: Uuid) -> Aad<'static> {
        Aad { table: "patients", column: "first_name_sealed", row_id: row }
    }

    #[test]
    fn a_sealed_value_opens_to_the_plaintext() {
        let sealer = sealer(&[("k1", 1)]);
        let row = Uuid::new_v4();

        let sealed = sealer.seal(&aad(row), "Zoë O'Brien".as_bytes()).unwrap();

        assert_eq!(sealed[0], FORMAT_VERSION);
        assert_eq!(Sealer::key_id_of(&sealed).unwrap(), "k1");
        assert!(!sealed.windows(3).any(|w| w == b"Zo\xc3"), "plaintext visible in the sealed value");
        assert_eq!(sealer.open_string(&aad(row), &sealed).unwrap(), "Zoë O'Brien");
    }

    #[test]
    fn associated_data_is_header_table_column_and_hyphenated_row_id() {
        // Stored values were sealed with this exact encoding: it must never change.
        let row_id = Uuid::parse_str("0193A5B2-7C4D-7E8F-9A0B-1C2D3E4F5A6B").unwrap();
        let aad = Aad { table: "patients", column: "dob_sealed", row_id };

        assert_eq!(aad.bytes(b"H1"), b"H1patients/dob_sealed/0193a5b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b".to_vec());
    }

    #[test]
    fn sealing_the_same_value_twice_gives_different_bytes() {
        let sealer = sealer(&[("k1", 1)]);
        let row = Uuid::new_v4();
        assert_ne!(sealer.seal(&aad(row), b"same").unwrap(), sealer.seal(&aad(row), b"same").unwrap());
    }

    #[test]
    fn an_empty_value_round_trips() {
        let sealer = sealer(&[("k1", 1)]);
        let row = Uuid::new_v4();
        let sealed = sealer.seal(&aad(row), b"").unwrap();
        assert_eq!(sealer.open(&aad(row), &sealed).unwrap(), b"");
    }

    #[test]
    fn a_value_opened_for_another_row_column_or_table_fails() {
        let sealer = sealer(&[("k1", 1)]);
        let row = Uuid::new_v4();
        let sealed = sealer.seal(&aad(row), b"1985-03-04").unwrap();

        let other_row = Aad { row_id: Uuid::new_v4(), ..aad(row) };
        let other_column = Aad { column: "last_name_sealed", ..aad(row) };
        let other_table = Aad { table: "run_rows", ..aad(row) };

        for wrong in [other_row, other_column, other_table] {
            assert_eq!(sealer.open(&wrong, &sealed), Err(SealError::Inauthentic), "{wrong:?}");
        }
    }

    #[test]
    fn any_changed_byte_fails_to_open_without_panicking() {
        let sealer = sealer(&[("k1", 1)]);
        let row = Uuid::new_v4();
        let sealed = sealer.seal(&aad(row), b"+13125550143").unwrap();

        for index in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[index] ^= 0x01;
            assert!(sealer.open(&aad(row), &tampered).is_err(), "byte {index} changed but opened");
        }
        for len in 0..sealed.len() {
            assert!(sealer.open(&aad(row), &sealed[..len]).is_err(), "truncated to {len} but opened");
        }
    }

    #[test]
    fn a_value_sealed_with_an_unknown_key_names_the_key() {
        let old = sealer(&[("old", 1)]);
        let new = sealer(&[("new", 2)]);
        let row = Uuid::new_v4();
        let sealed = old.seal(&aad(row), b"x").unwrap();
        assert_eq!(new.open(&aad(row), &sealed), Err(SealError::UnknownKey("old".into())));
    }

    #[test]
    fn after_rotation_old_values_open_and_new_values_use_the_new_key() {
        let before =
            Sealer::new(Keyring::parse(&format!("2024:{}", b64(&key(1))), "RIVVI_DATA_KEY").unwrap());
        let row = Uuid::new_v4();
        let old_value = before.seal(&aad(row), b"old").unwrap();

        let after = Sealer::new(
            Keyring::parse(&format!("2025:{}, 2024:{}", b64(&key(2)), b64(&key(1))), "RIVVI_DATA_KEY")
                .unwrap(),
        );
        let new_value = after.seal(&aad(row), b"new").unwrap();

        assert_eq!(after.active_key_id(), "2025");
        assert_eq!(after.open(&aad(row), &old_value).unwrap(), b"old");
        assert_eq!(Sealer::key_id_of(&new_value).unwrap(), "2025");
        assert_eq!(after.open(&aad(row), &new_value).unwrap(), b"new");
        assert!(before.open(&aad(row), &new_value).is_err());
    }

    #[test]
    fn a_relabelled_key_id_does_not_open() {
        // The same key material under two ids: the header is authenticated, so changing the id
        // in a stored value is detected even though the key would decrypt it.
        let sealer = sealer(&[("aa", 1), ("bb", 1)]);
        let row = Uuid::new_v4();
        let mut sealed = sealer.seal(&aad(row), b"x").unwrap();
        sealed[2..4].copy_from_slice(b"bb");
        assert_eq!(sealer.open(&aad(row), &sealed), Err(SealError::Inauthentic));
    }

    #[test]
    fn key_specs_are_parsed_and_bad_ones_named() {
        let bare = Keyring::parse(&b64(&key(7)), "RIVVI_DATA_KEY").unwrap();
        assert_eq!(Sealer::new(bare).active_key_id(), DEFAULT_KEY_ID);

        let short = Keyring::parse(&b64(&[1; 16]), "RIVVI_DATA_KEY").unwrap_err().to_string();
        assert!(short.contains("RIVVI_DATA_KEY") && short.contains("16 bytes"), "{short}");
        let garbage = Keyring::parse("k1:not base64!", "RIVVI_DATA_KEY").unwrap_err().to_string();
        assert!(garbage.contains("not base64"), "{garbage}");
        let twice =
            Keyring::parse(&format!("a:{0},a:{0}", b64(&key(1))), "RIVVI_DATA_KEY").unwrap_err().to_string();
        assert!(twice.contains("twice"), "{twice}");
        let bad_id = Keyring::parse(&format!("a b:{}", b64(&key(1))), "RIVVI_DATA_KEY").unwrap_err();
        assert!(bad_id.to_string().contains("key id"), "{bad_id}");
        assert!(!format!("{bad_id} {short}").contains(&b64(&key(1))));
    }

    #[test]
    fn lookup_keys_are_deterministic_and_depend_on_the_key_and_the_organization() {
        let org = Uuid::new_v4();
        let a = IndexKeys::new(key(1)).for_org(org);
        let b = IndexKeys::new(key(2)).for_org(org);
        let other_clinic = IndexKeys::new(key(1)).for_org(Uuid::new_v4());
        let canonical = "jane|doe|1985-03-04|+13125550143";

        assert_eq!(a.identity_key(canonical), a.identity_key(canonical));
        assert_eq!(a.identity_key(canonical).len(), 64);
        assert!(a.identity_key(canonical).chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a.identity_key(canonical), b.identity_key(canonical));
        assert_ne!(a.identity_key(canonical), other_clinic.identity_key(canonical));
        assert_ne!(a.identity_key(canonical), a.identity_key("john|doe|1985-03-04|+13125550143"));
        assert_eq!(a.phone_key("+13125550143"), a.phone_key("+13125550143"));
        assert_ne!(a.phone_key("+13125550143"), b.phone_key("+13125550143"));
        assert_ne!(a.phone_key("+13125550143"), other_clinic.phone_key("+13125550143"));
        assert_ne!(a.phone_key("+13125550143"), a.identity_key("+13125550143"));
        assert_ne!(a.mrn_key("12345"), a.phone_key("12345"), "the purpose is hashed in");
        assert_ne!(a.name_dob_key("jane|doe|1985-03-04"), a.identity_key("jane|doe|1985-03-04"));
        assert_ne!(a.mrn_key("12345"), other_clinic.mrn_key("12345"));
    }

    #[test]
    fn lookup_keys_match_a_known_hkdf_and_hmac() {
        // Computed independently with Python's `hmac` and `hashlib`: HKDF-SHA256(salt "rivvi
        // lookup keys v2", key = 32 zero bytes, info = the org id's 16 bytes) gives the org key;
        // the shared key is HMAC(key, "phone\0+1") in hex (what rows written before
        // per-organization keys hold); the org's key is HMAC(org key, "phone\0" + shared hex).
        let keys = IndexKeys::new([0; KEY_LEN]);
        let shared = "c7c80fb26c8535244d2bfd1b0c5984e027c72c31168cd9d84b6513548ea51eb4";
        assert_eq!(keys.shared_key(LookupPurpose::Phone, "+1"), shared);
        let org = keys.for_org(Uuid::from_u128(1));
        let expected = "01b3bf839d7eb5fb55644467cd1a523d52ffb85b97f77b3ff5e2ad580ded88f9";
        assert_eq!(org.phone_key("+1"), expected);
        assert_eq!(org.rekey(LookupPurpose::Phone, shared), expected);
    }

    #[test]
    fn development_keys_are_generated_once_then_reused_with_owner_only_permissions() {
        let dir = std::env::temp_dir().join(format!("rivvi-keys-{}", Uuid::new_v4().simple()));

        let first = Keys::load(None, None, Some(&dir)).unwrap();
        let second = Keys::load(None, None, Some(&dir)).unwrap();

        let row = Uuid::new_v4();
        let sealed = first.sealer.seal(&aad(row), b"x").unwrap();
        assert_eq!(second.sealer.open(&aad(row), &sealed).unwrap(), b"x");
        assert_eq!(first.sealer.active_key_id(), DEV_KEY_ID);
        let org = Uuid::new_v4();
        assert_eq!(first.index.for_org(org).phone_key("+1"), second.index.for_org(org).phone_key("+1"));
        assert_eq!(first.development_files.len(), 2);
        #[cfg(unix)]
        for file in [DEV_DATA_KEY_FILE, DEV_INDEX_KEY_FILE] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(file)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn without_a_development_directory_missing_keys_are_errors() {
        let data = format!("k:{}", b64(&key(1)));
        let err = Keys::load(Some(&data), None, None).unwrap_err();
        assert!(matches!(err, KeyError::Missing("RIVVI_INDEX_KEY")), "{err}");
        let err = Keys::load(None, Some(&b64(&key(1))), None).unwrap_err();
        assert!(matches!(err, KeyError::Missing("RIVVI_DATA_KEY")), "{err}");
        let keys = Keys::load(Some(&data), Some(&b64(&key(2))), None).unwrap();
        assert!(keys.development_files.is_empty());
        assert!(!format!("{keys:?}").contains(&b64(&key(1))));
    }
}
