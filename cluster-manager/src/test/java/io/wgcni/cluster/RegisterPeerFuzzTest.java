package io.wgcni.cluster;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.wgcni.api.cluster.v1.RegisterPeerRequest;
import io.wgcni.api.fuzz.Fuzzer;
import io.wgcni.cluster.ipam.Cidr;
import io.wgcni.cluster.ipam.Ipam.Allocation;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Mutated RegisterPeer requests (the wire bytes) through the checks the service applies: each field is accepted
 * in its normal form or refused with INVALID_ARGUMENT naming it; nothing else escapes; an accepted endpoint and
 * prefix read back the same.
 */
class RegisterPeerFuzzTest {
    private static final Allocation A = new Allocation("node-a", 0, Cidr.parse("10.100.0.0/24"),
            Cidr.parse("fd00:100::/64"), 1);

    @Test
    void ciRun() throws Exception {
        fuzz(Fuzzer.ci(), 15);
    }

    @Test
    @Tag("nightly")
    void nightlyRun() throws Exception {
        fuzz(Fuzzer.nightly(), System.nanoTime());
    }

    private static void fuzz(Duration budget, long seed) throws Exception {
        Fuzzer.run("register-peer", Fuzzer.corpus(RegisterPeerFuzzTest.class, "register-peer"), budget, seed,
                input -> {
                    RegisterPeerRequest r;
                    try {
                        r = RegisterPeerRequest.parseFrom(input);
                    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                        return;
                    }
                    check("node_name", () -> Validation.nodeName(r.getNodeName()));
                    check("public_key", () -> Validation.publicKey(r.getPublicKey()));
                    String endpoint = check("endpoint", () -> Validation.endpoint(r.getEndpoint()));
                    if (endpoint != null && !Validation.endpoint(endpoint).equals(endpoint)) {
                        throw new AssertionError("endpoint " + endpoint + " does not read back the same");
                    }
                    List<String> prefixes = check("allowed_prefixes",
                            () -> Validation.allowedPrefixes(r.getAllowedPrefixesList(), A));
                    if (prefixes != null && !Validation.allowedPrefixes(prefixes, A).equals(prefixes)) {
                        throw new AssertionError("prefixes " + prefixes + " do not read back the same");
                    }
                });
    }

    /** The check's value, or null when it refused the field as it must. */
    private static <T> T check(String field, java.util.function.Supplier<T> check) {
        try {
            return check.get();
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() != Status.Code.INVALID_ARGUMENT
                    || !e.getStatus().getDescription().startsWith(field + ":")) {
                throw new AssertionError(field + " refused as " + e.getStatus(), e);
            }
            return null;
        }
    }
}
