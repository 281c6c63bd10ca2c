"""The broker and Redis the scripts started are real: records and channel messages round-trip."""

import asyncio
import uuid

from channels.layers import get_channel_layer
from kafka import KafkaConsumer, TopicPartition

from zzalu import envelope
from zzalu.kafka import produce_sync, topic_name


def test_a_record_round_trips_through_the_broker(real_services, settings):
    key = f"roundtrip-{uuid.uuid4()}"
    sent = envelope.record("test.ping", nonce=key)
    metadata = produce_sync(topic_name("chat"), key, envelope.encode(sent))

    consumer = KafkaConsumer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    tp = TopicPartition(metadata.topic, metadata.partition)
    consumer.assign([tp])
    consumer.seek(tp, metadata.offset)
    records = consumer.poll(timeout_ms=10000, max_records=1)[tp]
    consumer.close()

    assert records[0].key == key.encode()
    assert envelope.decode(records[0].value) == sent


def test_a_message_round_trips_through_the_redis_channel_layer(real_services):
    async def round_trip():
        layer = get_channel_layer()
        sender, receiver = await layer.new_channel(), await layer.new_channel()
        group = f"roundtrip-{uuid.uuid4().hex}"
        await layer.group_add(group, receiver)
        await asyncio.sleep(0.05)  # pub/sub: the subscription is live once acknowledged
        await layer.group_send(group, {"type": "test.ping", "from": sender})
        message = await asyncio.wait_for(layer.receive(receiver), 5)
        await layer.send(sender, {"type": "test.pong"})
        reply = await asyncio.wait_for(layer.receive(sender), 5)
        await layer.flush()
        return layer, message, reply

    layer, message, reply = asyncio.run(round_trip())
    assert type(layer).__module__.startswith("channels_redis")
    assert message == {"type": "test.ping", "from": message["from"]}
    assert reply == {"type": "test.pong"}


def test_a_crowd_of_commands_shares_the_web_process_s_bounded_redis_pool(real_services):
    """Many commands at once wait for a pooled connection instead of each opening its own."""
    from zzalu.redis import ASYNC_POOL_SIZE, get_async_redis, key

    async def crowd():
        client = get_async_redis()
        name = key("pool-test", uuid.uuid4().hex)
        answers = await asyncio.gather(*(client.incr(name) for _ in range(20 * ASYNC_POOL_SIZE)))
        opened = sum(count for count, _ in client.connection_pool.get_connection_count())
        await client.delete(name)
        await client.aclose()
        return sorted(answers), opened

    answers, opened = asyncio.run(crowd())
    assert answers == list(range(1, 20 * ASYNC_POOL_SIZE + 1))
    assert 1 <= opened <= ASYNC_POOL_SIZE
