"""One Redis Cluster (3 masters, 3 replicas) shared by the cluster tests that leave it whole;
a test that kills a node starts a cluster of its own."""

from collections.abc import Iterator

import pytest
import redis.cluster

from tests.support.redis_cluster import RedisCluster


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    started = RedisCluster(tmp_path_factory.mktemp("cluster"))
    yield started
    started.stop()


@pytest.fixture
def cluster_client(cluster: RedisCluster) -> Iterator[redis.cluster.RedisCluster]:
    client = redis.cluster.RedisCluster.from_url(cluster.url)
    yield client
    client.close()
