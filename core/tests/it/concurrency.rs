//! Many clients at once: every value comes back intact and every byte is given back.

use vineyard_core::ObjectMeta;

use crate::blobs::pattern;
use vineyard_test_harness::TestServer;

const THREADS: usize = 8;
const ROUNDS: usize = 200;

#[test]
fn eight_clients_put_get_delete_concurrently() {
    let server = TestServer::start();
    let baseline = server.memory_usage();
    let workers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let client = server.client();
            std::thread::spawn(move || {
                for round in 0..ROUNDS {
                    let size = 1 + (thread * 7919 + round * 104_729) % 65_536;
                    let seed = (thread * ROUNDS + round) as u8;
                    let bytes = pattern(size, seed);
                    let blob = client.put_bytes(&bytes).unwrap();
                    let mut meta = ObjectMeta::with_typename("test::Concurrent");
                    meta.add_member("buffer_", client.get_metadata(blob).unwrap());
                    meta.insert("thread_", thread);
                    meta.insert("round_", round);
                    let object = client.create_metadata(&meta).unwrap().id().unwrap();

                    let fetched = client.get_metadata(object).unwrap();
                    assert_eq!(fetched.get("thread_"), Some(&thread.into()));
                    assert_eq!(fetched.get("round_"), Some(&round.into()));
                    let member = fetched.member("buffer_").unwrap();
                    assert_eq!(member.id(), Some(blob));
                    let read = client.get_blob(blob).unwrap();
                    assert_eq!(&read[..], &bytes[..], "thread {thread} round {round}");
                    // Delete while still holding the blob half of the time.
                    if round % 2 == 0 {
                        drop(read);
                        assert_eq!(client.delete(&[object], false, true).unwrap(), vec![blob]);
                    } else {
                        assert_eq!(client.delete(&[object], false, true).unwrap(), vec![blob]);
                        assert_eq!(read[size - 1], bytes[size - 1]);
                    }
                    assert!(!client.exists(object).unwrap());
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert_eq!(server.memory_usage(), baseline);
    let status = server.client().status().unwrap();
    assert_eq!(status.deferred_requests, 0);
}
