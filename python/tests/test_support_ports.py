"""The test support's port picker: two listeners of one test never get the same port."""

from support import free_port


def test_ports_handed_out_in_one_process_are_all_different():
    # The kernel offers recently probed ports again: a few thousand probes repeat some port
    # (an etcd once got its client and peer ports equal and could not start).
    ports = [free_port() for _ in range(3000)]
    assert len(set(ports)) == len(ports)
