"""hipflask.forking: what a preloaded worker must make anew is renewed in the child, not the parent."""
import os

from hipflask.forking import renew_after_fork


class Client:
    def __init__(self):
        self.made_in = os.getpid()


def test_a_forked_child_renews_what_the_parent_made():
    client = Client()
    renew_after_fork(client, lambda owner: setattr(owner, "made_in", os.getpid()))
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(write, str(client.made_in).encode())
        os._exit(0)
    os.close(write)
    made_in_child = int(os.read(read, 32))
    os.close(read)
    os.waitpid(child, 0)
    assert made_in_child == child
    assert client.made_in == os.getpid()
