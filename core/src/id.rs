//! Object ids: 64 bits printed as `o` + 16 hex digits, and the generator that makes them.
//!
//! Layout (Vineyard's): bit 63 marks a blob; bits 22..63 hold milliseconds since the epoch;
//! bits 12..22 the creating instance (10 bits); bits 0..12 a per-process counter.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// The top bit, set in the id of every blob and of no other object.
pub(crate) const BLOB_BIT: u64 = 1 << 63;
const INSTANCE_BITS: u32 = 10;
const COUNTER_BITS: u32 = 12;
const TIME_SHIFT: u32 = INSTANCE_BITS + COUNTER_BITS;
const TIME_MASK: u64 = (1 << 41) - 1;
const INSTANCE_MASK: u64 = (1 << INSTANCE_BITS) - 1;
const COUNTER_MASK: u64 = (1 << COUNTER_BITS) - 1;

/// The id of an object or a blob.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ObjectID(pub u64);

/// The id of the one empty blob, which always exists.
pub const EMPTY_BLOB_ID: ObjectID = ObjectID(BLOB_BIT);

/// The invalid id (also "unspecified").
pub const INVALID_ID: ObjectID = ObjectID(u64::MAX);

/// An instance id; `u64::MAX` means "several instances" in replies.
pub type InstanceID = u64;

impl ObjectID {
    /// True for blob ids (bit 63 set).
    pub fn is_blob(self) -> bool {
        self.0 & BLOB_BIT != 0
    }

    /// The instance that created this id (its low 10 bits).
    pub fn instance(self) -> InstanceID {
        (self.0 >> COUNTER_BITS) & INSTANCE_MASK
    }

    /// This id as a blob id (bit 63 set): a client names a blob after an id it reserved.
    pub fn as_blob(self) -> ObjectID {
        ObjectID(self.0 | BLOB_BIT)
    }

    /// This id with bit 63 clear (the reserved id a blob id was made from).
    pub fn without_blob_bit(self) -> ObjectID {
        ObjectID(self.0 & !BLOB_BIT)
    }

    /// True if `instance` made this id (compares the low 10 bits the id keeps of it).
    pub fn made_by(self, instance: InstanceID) -> bool {
        self.instance() == instance & INSTANCE_MASK
    }

    /// The creation time in milliseconds since the epoch.
    pub fn timestamp_ms(self) -> u64 {
        (self.0 >> TIME_SHIFT) & TIME_MASK
    }

    /// The raw 64-bit value.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ObjectID {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "o{:016x}", self.0)
    }
}

impl fmt::Debug for ObjectID {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for ObjectID {
    type Err = Error;

    /// Parses `o0123456789abcdef` (any leading letter, as Vineyard) or a decimal integer.
    fn from_str(text: &str) -> Result<ObjectID> {
        let bad = || {
            Error::invalid(format!(
                "`{text}` is not an object id; expected `o` followed by 16 hex digits"
            ))
        };
        if let Ok(value) = text.parse::<u64>() {
            return Ok(ObjectID(value));
        }
        let mut chars = text.chars();
        match chars.next() {
            Some(first) if first.is_ascii_alphabetic() => {
                let hex = chars.as_str();
                if hex.is_empty() || hex.len() > 16 {
                    return Err(bad());
                }
                u64::from_str_radix(hex, 16)
                    .map(ObjectID)
                    .map_err(|_| bad())
            }
            _ => Err(bad()),
        }
    }
}

impl Serialize for ObjectID {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ObjectID {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Makes unique ids for one instance: time-ordered, never repeating within the process.
#[derive(Debug)]
pub struct IdGenerator {
    instance: InstanceID,
    last: Mutex<(u64, u64)>,
}

impl IdGenerator {
    /// A generator whose ids name `instance` (only its low 10 bits fit in an id).
    pub fn new(instance: InstanceID) -> IdGenerator {
        IdGenerator {
            instance: instance & INSTANCE_MASK,
            last: Mutex::new((0, 0)),
        }
    }

    /// A fresh object (non-blob) id.
    pub fn object_id(&self) -> ObjectID {
        ObjectID(self.next_raw() & !BLOB_BIT)
    }

    /// A fresh blob id.
    pub fn blob_id(&self) -> ObjectID {
        // Unlike Vineyard, blob ids keep the instance bits: blob ids of two instances of one
        // cluster then never collide in a global metadata tree.
        ObjectID(self.next_raw() | BLOB_BIT)
    }

    /// A fresh signature (same space as object ids).
    pub fn signature(&self) -> u64 {
        self.next_raw() & !BLOB_BIT
    }

    /// The first of `count` consecutive fresh object ids (`1..=4096`: one millisecond's
    /// counter range), for a client that names its objects itself.
    pub fn reserve(&self, count: u64) -> ObjectID {
        assert!(
            (1..=COUNTER_MASK + 1).contains(&count),
            "reserve 1..=4096 ids"
        );
        ObjectID(self.next_run(count) & !BLOB_BIT)
    }

    fn next_raw(&self) -> u64 {
        self.next_run(1)
    }

    /// The first raw id of `count` consecutive ones that share a millisecond.
    fn next_run(&self, count: u64) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_millis() as u64)
            .unwrap_or(0);
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let (mut millis, mut counter) = *last;
        if now > millis {
            millis = now;
            counter = 0;
        } else {
            counter += 1;
            // The 12-bit counter ran out within one millisecond: borrow the next millisecond
            // rather than wrapping around to an id already handed out.
            if counter + count - 1 > COUNTER_MASK {
                millis += 1;
                counter = 0;
            }
        }
        *last = (millis, counter + count - 1);
        ((millis & TIME_MASK) << TIME_SHIFT) | (self.instance << COUNTER_BITS) | counter
    }
}

/// Milliseconds since the epoch, as Vineyard's `__timestamp`.
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn text_round_trips() {
        let id = ObjectID(0x6880dac94c800005);
        assert_eq!(id.to_string(), "o6880dac94c800005");
        assert_eq!("o6880dac94c800005".parse::<ObjectID>().unwrap(), id);
        assert_eq!(EMPTY_BLOB_ID.to_string(), "o8000000000000000");
        assert!("o".parse::<ObjectID>().is_err());
        assert!("zz".parse::<ObjectID>().is_err());
        assert!("o00000000000000000".parse::<ObjectID>().is_err());
    }

    #[test]
    fn decodes_vineyard_layout() {
        let id = ObjectID(0x6880dac94c800005);
        assert_eq!(id.timestamp_ms(), 1795353683250);
        assert_eq!(id.instance(), 0);
        assert!(!id.is_blob());
        assert!(ObjectID(0xe880dac94c400003).is_blob());
    }

    #[test]
    fn generated_ids_are_unique_and_tagged() {
        let generator = IdGenerator::new(5);
        let mut seen = HashSet::new();
        for _ in 0..20_000 {
            let object = generator.object_id();
            let blob = generator.blob_id();
            assert!(!object.is_blob() && blob.is_blob());
            assert_eq!(object.instance(), 5);
            assert!(seen.insert(object) && seen.insert(blob));
        }
    }

    #[test]
    fn reserved_runs_share_a_millisecond_and_never_overlap() {
        let generator = IdGenerator::new(3);
        let mut seen = HashSet::new();
        for round in 0..200 {
            let count = [1, 256, 4096][round % 3];
            let first = generator.reserve(count);
            for offset in 0..count {
                let id = ObjectID(first.0 + offset);
                assert!(!id.is_blob());
                assert_eq!(
                    (id.instance(), id.timestamp_ms()),
                    (3, first.timestamp_ms())
                );
                assert!(seen.insert(id), "{id} handed out twice");
            }
            assert!(seen.insert(generator.object_id()));
        }
    }
}
