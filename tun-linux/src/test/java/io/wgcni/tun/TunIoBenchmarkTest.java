package io.wgcni.tun;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Keeps {@link TunIoBenchmark} working: a few rounds of each variant on a real TUN (no timing asserted). */
class TunIoBenchmarkTest {
    @RegisterExtension
    final Namespaces fixture = new Namespaces();

    @Test
    void everyVariantGetsItsAnswersBack() throws Exception {
        String ns = fixture.create();
        LinuxTun tun = fixture.closeLater(TunIoBenchmark.setUp(ns));
        TunIoBenchmark.run(tun.fd(), 20);
    }
}
