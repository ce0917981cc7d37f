"""Leases in a NATS JetStream KV bucket (services/kit/leases.py), against real nats-servers: one
holder per name however they race, takeover within a few seconds when a holder dies, and a
holder that cannot renew stops trusting its lease before anyone else can have it."""

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest_asyncio

from services.kit.bus import Bus
from services.kit.leases import Leases
from services.kit.natsd import NatsServer
from services.kit.testing import eventually

TTL_S = 3.0


@pytest_asyncio.fixture
async def buses(nats_server):
    """Two processes' worth of connections to one nats-server."""
    opened = [await Bus.connect(nats_server.url, f"lease-test-{i}", ensure_streams=False) for i in range(3)]
    yield opened
    for bus in opened:
        await bus.close()


def bucket() -> str:
    return f"leases-{uuid.uuid4().hex[:8]}"


async def test_two_holders_racing_for_the_same_names_never_both_win(buses):
    name = bucket()
    a = await Leases(buses[0], name, "holder-a", TTL_S).open()
    b = await Leases(buses[1], name, "holder-b", TTL_S).open()
    names = [f"shard.{i}" for i in range(20)]
    for lease in names:
        won_a, won_b = await asyncio.gather(a.try_acquire(lease), b.try_acquire(lease))
        assert won_a != won_b, lease  # exactly one
        winner, loser = (a, b) if won_a else (b, a)
        assert winner.held(lease) and not loser.held(lease)
        assert await winner.holder_of(lease) == winner.holder
        assert not await loser.try_acquire(lease) and not await loser.renew(lease)  # still refused
        assert await winner.renew(lease) and winner.held(lease)
    # Between them they hold every name, each once.
    assert a.holding.isdisjoint(b.holding) and a.holding | b.holding == set(names)


async def test_a_released_lease_is_taken_at_once_and_a_stale_holder_cannot_renew(buses):
    name = bucket()
    a = await Leases(buses[0], name, "holder-a", TTL_S).open()
    b = await Leases(buses[1], name, "holder-b", TTL_S).open()
    assert await a.try_acquire("job")
    assert not await b.try_acquire("job")
    await a.release("job")
    assert not a.held("job")
    assert await b.try_acquire("job")  # no waiting for the TTL
    assert await b.holder_of("job") == "holder-b"


async def test_a_holder_that_stalled_past_the_ttl_finds_its_lease_gone_and_cannot_write_over_it(buses):
    name = bucket()
    a = await Leases(buses[0], name, "holder-a", TTL_S).open()
    b = await Leases(buses[1], name, "holder-b", TTL_S).open()
    assert await a.try_acquire("job")
    await eventually(lambda: not a.held("job"), timeout=TTL_S, message="a stops trusting it (no renewals)")
    assert not await b.try_acquire("job")  # not before the server lets it go
    await eventually(lambda: b.try_acquire("job"), timeout=TTL_S + 3, interval=0.1, message="b takes it after the TTL")
    assert not await a.renew("job") and not a.held("job")  # a's renewal comes too late
    assert await b.holder_of("job") == "holder-b" and b.held("job")


HOLDER = textwrap.dedent("""
    import asyncio, sys
    from services.kit.bus import Bus
    from services.kit.leases import Leases

    async def main(url, bucket):
        bus = await Bus.connect(url, "lease-holder", ensure_streams=False)
        leases = await Leases(bus, bucket, "doomed-holder", float(sys.argv[3])).open()
        keeper = leases.keeper(on_gained=lambda name: print("gained", name, flush=True)).start()
        keeper.want(["job"])
        await asyncio.Event().wait()

    asyncio.run(main(sys.argv[1], sys.argv[2]))
""")


async def test_when_the_holder_dies_another_process_takes_over_within_a_few_seconds(nats_server, buses):
    name = bucket()
    process = subprocess.Popen([sys.executable, "-c", HOLDER, nats_server.url, name, str(TTL_S)],
                               stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    try:
        assert (await asyncio.to_thread(process.stdout.readline)).strip() == "gained job"
        survivor = await Leases(buses[0], name, "survivor", TTL_S).open()
        gained: list[float] = []
        keeper = survivor.keeper(on_gained=lambda _: gained.append(time.monotonic())).start()
        keeper.want(["job"])
        await asyncio.sleep(TTL_S)  # the holder is alive and renewing: nothing to take
        assert not gained and await survivor.holder_of("job") == "doomed-holder"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        killed = time.monotonic()
        await eventually(lambda: gained, timeout=TTL_S + 5, message="the survivor took the lease over")
        assert gained[0] - killed <= TTL_S + 2.0
        assert survivor.held("job") and await survivor.holder_of("job") == "survivor"
        await keeper.stop()
        assert await survivor.holder_of("job") is None  # released on the way out
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


async def test_a_holder_cut_off_from_nats_stops_trusting_its_lease_before_it_expires(tmp_path):
    nats = await NatsServer(tmp_path / "js").start()
    bus = await Bus.connect(nats.url, "cut-off", ensure_streams=False)
    try:
        leases = await Leases(bus, bucket(), "cut-off-holder", TTL_S).open()
        lost: list[float] = []
        keeper = leases.keeper(on_lost=lambda _: lost.append(time.monotonic())).start()
        keeper.want(["job"])
        await eventually(lambda: keeper.holding == {"job"}, message="held")
        await asyncio.sleep(leases.renew_every_s * 2)  # renewals go through meanwhile
        assert leases.held("job") and not lost
        last_renewal = time.monotonic() - leases.age("job")
        await nats.stop()
        await eventually(lambda: lost, timeout=TTL_S + 2, message="the holder gave the lease up")
        # It let go while the lease was still its own at the server: nobody else could have it yet.
        assert lost[0] - last_renewal < TTL_S
        assert not leases.held("job") and keeper.holding == set()
        await keeper.stop(release=False)
    finally:
        await bus.close()
        await nats.stop()


async def test_a_keeper_follows_the_names_it_is_told_to_want(buses):
    name = bucket()
    events: list[tuple[str, str, str]] = []

    def keeper_for(bus, holder):
        leases = Leases(bus, name, holder, TTL_S)
        return leases, leases.keeper(on_gained=lambda n: events.append((holder, "gained", n)),
                                     on_lost=lambda n: events.append((holder, "lost", n)))

    la, ka = keeper_for(buses[0], "a")
    lb, kb = keeper_for(buses[1], "b")
    await la.open()
    await lb.open()
    ka.start()
    ka.want(["x", "y"])
    await eventually(lambda: ka.holding == {"x", "y"}, message="a holds x and y")
    kb.start()
    kb.want(["x", "y", "z"])
    await eventually(lambda: kb.holding == {"z"}, message="b holds the free one")
    await asyncio.sleep(la.renew_every_s * 3)  # renewals keep a's
    assert ka.holding == {"x", "y"} and kb.holding == {"z"}
    ka.want(["y"])  # a gives x up: b takes it without waiting for the TTL
    await eventually(lambda: kb.holding == {"x", "z"}, timeout=2, message="b took x over")
    assert ("a", "lost", "x") in events and ("b", "gained", "x") in events
    await ka.stop()
    await eventually(lambda: kb.holding == {"x", "y", "z"}, timeout=2, message="b took everything")
    await kb.stop()
