#!/usr/bin/env python3
"""A TCP proxy that makes a loopback upstream look like one across a WAN: every chunk is delayed by
a fixed latency and the upstream->client direction shares one bandwidth cap (a token bucket), like
one link. It counts the bytes it relays from the upstream; SIGUSR1 writes the count to --stats.
This machine's kernel has no netem qdisc, hence a userspace proxy."""
import argparse
import asyncio
import signal
import time

parser = argparse.ArgumentParser()
parser.add_argument("--listen", type=int, required=True)
parser.add_argument("--target", type=int, required=True)
parser.add_argument("--latency-ms", type=float, default=20.0)
parser.add_argument("--rate-mbit", type=float, default=400.0)
parser.add_argument("--stats", required=True)
args = parser.parse_args()

latency = args.latency_ms / 1000.0
bytes_per_second = args.rate_mbit * 1_000_000 / 8
link_free_at = 0.0
relayed = 0


def write_stats(*_):
    with open(args.stats, "w") as f:
        f.write(f"{relayed}\n")


async def pipe(reader, writer, shaped):
    """Reads as fast as the sender writes and releases each chunk once its latency has passed, so
    latency delays the stream without limiting its throughput (a bandwidth cap does that)."""
    queue = asyncio.Queue(maxsize=64)  # a few bandwidth-delay products, so memory stays bounded

    async def receive():
        try:
            while True:
                chunk = await reader.read(65536)
                await queue.put((time.monotonic(), chunk))
                if not chunk:
                    return
        except ConnectionError:
            await queue.put((time.monotonic(), b""))

    async def send():
        global link_free_at, relayed
        try:
            while True:
                arrival, chunk = await queue.get()
                if not chunk:
                    break
                release = arrival + latency
                if shaped:
                    release = max(release, link_free_at) + len(chunk) / bytes_per_second
                    link_free_at = release
                    relayed += len(chunk)
                delay = release - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(chunk)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass

    receiving = asyncio.ensure_future(receive())
    await send()
    receiving.cancel()


async def handle(client_reader, client_writer):
    try:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", args.target)
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(pipe(client_reader, up_writer, False), pipe(up_reader, client_writer, True))


async def main():
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, write_stats)
    server = await asyncio.start_server(handle, "127.0.0.1", args.listen)
    write_stats()
    async with server:
        await server.serve_forever()


asyncio.run(main())
