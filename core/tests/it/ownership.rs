//! Unsealed buffers belong to the connection that created them: another connection cannot
//! seal, shrink or drop them (which would let memory its writer still writes to be reused
//! under a sealed blob); drop is for buffers, delete for sealed blobs.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::FromRawFd;
use std::sync::Arc;

use memmap2::MmapMut;
use proptest::prelude::*;
use serde_json::{json, Value};
use vineyard_core::store::Arena;
use vineyard_core::table::{ConnectionId, ObjectTable};
use vineyard_core::{Error, ObjectID};

use crate::raw_frames::RawConnection;
use vineyard_test_harness::TestServer;

/// The payload of a raw `create_buffer_request`: (blob id, offset).
fn create_buffer(connection: &mut RawConnection, size: u64) -> (u64, u64) {
    let reply = connection.request(&json!({"type": "create_buffer_request", "size": size}));
    assert_eq!(reply["type"], "create_buffer_reply", "{reply:?}");
    let created = &reply["created"];
    (
        created["object_id"].as_u64().unwrap(),
        created["data_offset"].as_u64().unwrap(),
    )
}

fn code_of(reply: &serde_json::Map<String, Value>) -> i64 {
    reply.get("code").and_then(Value::as_i64).unwrap_or(0)
}

#[test]
fn another_connections_buffer_cannot_be_sealed_shrunk_or_dropped() {
    let server = TestServer::start();
    let mut writer = RawConnection::registered(server.socket());
    let mut other = RawConnection::registered(server.socket());
    let (id, _) = create_buffer(&mut writer, 4096);
    for (request, action) in [
        (json!({"type": "seal_request", "object_id": id}), "seal"),
        (json!({"type": "drop_buffer_request", "id": id}), "drop"),
        (
            json!({"type": "shrink_buffer_request", "id": id, "size": 64}),
            "shrink",
        ),
    ] {
        let reply = other.request(&request);
        assert_eq!(code_of(&reply), 1, "{request}: {reply:?}");
        let message = reply["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("cannot {action} blob"))
                && message.contains("only the connection that created a buffer"),
            "{message}"
        );
    }
    // Nor deleted: a delete is for sealed blobs and objects.
    let reply = other.request(&json!({"type": "del_data_request", "id": [id]}));
    assert_eq!(code_of(&reply), 14, "{reply:?}");
    let reply = writer.request(&json!({"type": "del_data_request", "id": [id]}));
    assert_eq!(code_of(&reply), 14, "{reply:?}");
    assert!(reply["message"]
        .as_str()
        .unwrap()
        .contains("has not sealed yet"));
    // The writer still owns it: shrink and seal work.
    let reply = writer.request(&json!({"type": "shrink_buffer_request", "id": id, "size": 64}));
    assert_eq!(reply["type"], "shrink_buffer_reply", "{reply:?}");
    let reply = writer.request(&json!({"type": "seal_request", "object_id": id}));
    assert_eq!(reply["type"], "seal_reply", "{reply:?}");
    // Sealing again is harmless, whoever asks.
    let reply = other.request(&json!({"type": "seal_request", "object_id": id}));
    assert_eq!(reply["type"], "seal_reply", "{reply:?}");
    // A sealed blob is deleted, not dropped or shrunk.
    for request in [
        json!({"type": "drop_buffer_request", "id": id}),
        json!({"type": "shrink_buffer_request", "id": id, "size": 8}),
    ] {
        let reply = writer.request(&request);
        assert_eq!(code_of(&reply), 13, "{request}: {reply:?}");
    }
    let reply = other.request(&json!({"type": "del_data_request", "id": [id]}));
    assert_eq!(reply["type"], "del_data_reply", "{reply:?}");
    let reply = other.request(&json!({"type": "exists_request", "id": id}));
    assert_eq!(reply["exists"], false);
}

#[test]
fn a_wrong_id_from_another_client_cannot_corrupt_a_sealed_blob() {
    let server = TestServer::start();
    let writer = server.client();
    let mut buffer = writer.create_blob(4096).unwrap();
    let mut stranger = RawConnection::registered(server.socket());
    // The stranger drops the writer's buffer by mistake; it must stay the writer's.
    let reply = stranger.request(&json!({"type": "drop_buffer_request", "id": buffer.id().0}));
    assert_ne!(code_of(&reply), 0, "{reply:?}");
    // A third client fills and seals a blob of the same size (it would get the same memory
    // if the drop had freed it).
    let third = server.client();
    let sealed = third.put_bytes(&[7u8; 4096]).unwrap();
    // The writer goes on writing through its mapping, then seals.
    buffer.fill(1);
    let written = buffer.seal().unwrap();
    let reader = server.client();
    assert!(reader
        .get_blob(sealed)
        .unwrap()
        .iter()
        .all(|&byte| byte == 7));
    assert!(reader
        .get_blob(written)
        .unwrap()
        .iter()
        .all(|&byte| byte == 1));
}

#[test]
fn errors_are_typed_for_the_typed_client() {
    let server = TestServer::start();
    let client = server.client();
    let id = client.put_bytes(b"sealed").unwrap();
    let mut raw = RawConnection::registered(server.socket());
    let reply = raw.request(&json!({"type": "drop_buffer_request", "id": id.0}));
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("delete it instead"),
        "{reply:?}"
    );
    let writer = client.create_blob(64).unwrap();
    match client.delete(&[writer.id()], false, true) {
        Err(error @ Error::Server { .. }) => {
            assert_eq!(
                error.code(),
                vineyard_core::Code::ObjectNotSealed,
                "{error}"
            )
        }
        other => panic!("deleting an unsealed buffer gave {other:?}"),
    }
    writer.abort().unwrap();
}

// -- the table under any interleaving ----------------------------------------------------------

const ARENA: u64 = 64 << 10;
const CONNECTIONS: usize = 3;

#[derive(Clone, Debug)]
enum Op {
    Create { by: usize, size: u64 },
    Write { by: usize, pick: usize },
    Seal { by: usize, pick: usize },
    Drop { by: usize, pick: usize },
    Shrink { by: usize, pick: usize, size: u64 },
    Delete { pick: usize },
    Get { by: usize, pick: usize },
    Release { by: usize, pick: usize },
    Reconnect { by: usize },
}

fn op() -> impl Strategy<Value = Op> {
    let by = 0..CONNECTIONS;
    let pick = 0usize..64;
    prop_oneof![
        3 => (by.clone(), 1u64..8192).prop_map(|(by, size)| Op::Create { by, size }),
        3 => (by.clone(), pick.clone()).prop_map(|(by, pick)| Op::Write { by, pick }),
        2 => (by.clone(), pick.clone()).prop_map(|(by, pick)| Op::Seal { by, pick }),
        2 => (by.clone(), pick.clone()).prop_map(|(by, pick)| Op::Drop { by, pick }),
        1 => (by.clone(), pick.clone(), 1u64..8192)
            .prop_map(|(by, pick, size)| Op::Shrink { by, pick, size }),
        2 => pick.clone().prop_map(|pick| Op::Delete { pick }),
        1 => (by.clone(), pick.clone()).prop_map(|(by, pick)| Op::Get { by, pick }),
        1 => (by.clone(), pick.clone()).prop_map(|(by, pick)| Op::Release { by, pick }),
        1 => by.prop_map(|by| Op::Reconnect { by }),
    ]
}

/// A buffer as its writer sees it: where it writes, until its own seal, drop or disconnect.
#[derive(Clone, Copy, Debug)]
struct Writing {
    id: ObjectID,
    offset: u64,
    size: u64,
}

/// The table, the arena mapped as a client maps it, and what each client believes.
struct World {
    table: ObjectTable,
    memory: MmapMut,
    connections: Vec<ConnectionId>,
    /// Per client: the buffers it is writing.
    writing: Vec<Vec<Writing>>,
    /// Every blob id ever created (the ids a confused client might send).
    known: Vec<ObjectID>,
    /// Sealed blobs and the bytes they had when sealed.
    sealed: HashMap<ObjectID, (u64, Vec<u8>)>,
}

impl World {
    fn new() -> World {
        let arena = Arc::new(Arena::create(ARENA).unwrap());
        // SAFETY: a duplicate of the arena's read-write fd, owned by the File from here on
        // (close-on-exec: tests running beside this one start child processes).
        let file =
            unsafe { File::from_raw_fd(libc::fcntl(arena.write_fd(), libc::F_DUPFD_CLOEXEC, 0)) };
        // SAFETY: the test is the only writer of the arena besides the table, which writes
        // nothing here (no put_blob).
        let memory = unsafe { MmapMut::map_mut(&file).unwrap() };
        let mut table = ObjectTable::new(0, arena);
        let connections = (0..CONNECTIONS).map(|_| table.open_connection()).collect();
        World {
            table,
            memory,
            connections,
            writing: vec![Vec::new(); CONNECTIONS],
            known: Vec::new(),
            sealed: HashMap::new(),
        }
    }

    fn pick(&self, pick: usize) -> Option<ObjectID> {
        (!self.known.is_empty()).then(|| self.known[pick % self.known.len()])
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Create { by, size } => {
                if let Ok(payload) = self.table.create_buffer(self.connections[by], size) {
                    self.known.push(payload.id());
                    self.writing[by].push(Writing {
                        id: payload.id(),
                        offset: payload.data_offset as u64,
                        size,
                    });
                }
            }
            Op::Write { by, pick } => {
                let buffers = &self.writing[by];
                if let Some(&buffer) = buffers.get(pick % buffers.len().max(1)) {
                    let range = buffer.offset as usize..(buffer.offset + buffer.size) as usize;
                    self.memory[range].fill(by as u8 + 1 + (pick as u8 % 50));
                }
            }
            Op::Seal { by, pick } => {
                // Half the time its own buffer, as a writer does; else any id, as a confused
                // client does.
                let own = &self.writing[by];
                let id = match (pick % 2, own.is_empty()) {
                    (0, false) => own[pick / 2 % own.len()].id,
                    _ => match self.pick(pick) {
                        Some(id) => id,
                        None => return,
                    },
                };
                if self.table.seal(self.connections[by], id).is_ok() {
                    if let Some(at) = self.writing[by].iter().position(|w| w.id == id) {
                        let buffer = self.writing[by].remove(at);
                        let range = buffer.offset as usize..(buffer.offset + buffer.size) as usize;
                        self.sealed
                            .insert(id, (buffer.offset, self.memory[range].to_vec()));
                    }
                }
            }
            Op::Drop { by, pick } => {
                let Some(id) = self.pick(pick) else { return };
                if self.table.drop_buffer(self.connections[by], id).is_ok() {
                    self.writing[by].retain(|w| w.id != id);
                }
            }
            Op::Shrink { by, pick, size } => {
                let Some(id) = self.pick(pick) else { return };
                if self
                    .table
                    .shrink_buffer(self.connections[by], id, size)
                    .is_ok()
                {
                    for buffer in self.writing[by].iter_mut().filter(|w| w.id == id) {
                        buffer.size = size;
                    }
                }
            }
            Op::Delete { pick } => {
                let Some(id) = self.pick(pick) else { return };
                if let Ok(deleted) = self.table.delete(&[id], false, true, false) {
                    for blob in deleted.blobs {
                        self.sealed.remove(&blob);
                    }
                }
            }
            Op::Get { by, pick } => {
                let Some(id) = self.pick(pick) else { return };
                let _ = self.table.get_buffers(self.connections[by], &[id], false);
            }
            Op::Release { by, pick } => {
                let Some(id) = self.pick(pick) else { return };
                self.table.release(self.connections[by], id);
            }
            Op::Reconnect { by } => {
                // The client's connection dies with its buffers; it starts over.
                self.table.close_connection(self.connections[by]);
                self.writing[by].clear();
                self.connections[by] = self.table.open_connection();
            }
        }
    }

    /// Every sealed blob still has the bytes it was sealed with.
    fn check_sealed(&self) -> Result<(), TestCaseError> {
        for (id, (offset, bytes)) in &self.sealed {
            let now = &self.memory[*offset as usize..*offset as usize + bytes.len()];
            prop_assert!(now == bytes.as_slice(), "sealed blob {id} changed");
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever several connections send (right or wrong ids), a sealed blob's bytes never
    /// change and no range is freed twice (the allocator asserts that in debug builds).
    #[test]
    fn no_interleaving_changes_a_sealed_blob(ops in proptest::collection::vec(op(), 1..120)) {
        let mut world = World::new();
        for op in ops {
            world.apply(op);
            world.check_sealed()?;
        }
        for connection in world.connections.clone() {
            world.table.close_connection(connection);
        }
        let _ = world.table.clear();
        prop_assert_eq!(world.table.memory_usage(), 0);
    }
}
