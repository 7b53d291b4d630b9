package io.wgcni.cluster.bench;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Keeps the benchmark runnable: a tiny run of each part (the figures themselves come from its main). */
class ControlPlaneBenchTest {
    @Test
    void runsSmall() throws Exception {
        assertTrue(ControlPlaneBench.allocationsPerSecond(64, 4, 100) > 0);
        long[] p = ControlPlaneBench.fanOut(5, 3);
        assertTrue(p[0] > 0 && p[0] <= p[1] && p[2] <= p[3]);
    }

    @Test
    void runsSmallOnEtcd(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        io.wgcni.cluster.store.EtcdCluster.assumeInstalled();
        try (var etcd = io.wgcni.cluster.store.EtcdCluster.start(dir, 3)) {
            ControlPlaneBench.etcdUrl = etcd.url("");
            assertTrue(ControlPlaneBench.allocationsPerSecond(64, 4, 100) > 0);
            long[] p = ControlPlaneBench.fanOut(5, 3);
            assertTrue(p[0] > 0 && p[0] <= p[1] && p[2] <= p[3]);
        } finally {
            ControlPlaneBench.etcdUrl = null;
        }
    }
}
