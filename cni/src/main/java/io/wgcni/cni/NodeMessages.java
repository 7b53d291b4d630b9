package io.wgcni.cni;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The CNI socket's messages (api: wgcni/node/v1/node.proto, CniRequest and CniResponse), encoded and decoded in
 * the protobuf wire format by hand. The generated classes work, but their first use costs a JVM per call more
 * than everything else the plugin does: building a request and serialising it took 170 ms here (descriptors,
 * reflection-built schemas), against about 1 ms for this. NodeMessagesTest checks every message against the
 * generated classes in both directions, so a change to node.proto that this file misses fails the build.
 */
final class NodeMessages {
    private NodeMessages() {}

    // ---- requests (CniRequest's oneof field numbers: attach 1, detach 2, check 3, garbage_collect 4, status 5)

    record Attach(String containerId, String netns, String ifname, String networkName, int mtu,
            boolean replaceDefaultRoute, Map<String, String> args) {}

    record Detach(String containerId, String netns, String ifname) {}

    record Check(String containerId, String netns, String ifname, List<String> expectedAddresses, String networkName) {}

    record Ref(String containerId, String ifname) {}

    record GarbageCollect(String networkName, List<Ref> valid) {}

    static byte[] request(Attach a) {
        Writer m = new Writer().string(1, a.containerId()).string(2, a.netns()).string(3, a.ifname())
                .string(4, a.networkName()).varint(5, a.mtu()).varint(6, a.replaceDefaultRoute() ? 1 : 0);
        for (Map.Entry<String, String> arg : a.args().entrySet()) {
            m.message(7, new Writer().string(1, arg.getKey()).string(2, arg.getValue()));
        }
        return new Writer().message(1, m).toByteArray();
    }

    static byte[] request(Detach d) {
        return new Writer().message(2, new Writer().string(1, d.containerId()).string(2, d.netns())
                .string(3, d.ifname())).toByteArray();
    }

    static byte[] request(Check c) {
        Writer m = new Writer().string(1, c.containerId()).string(2, c.netns()).string(3, c.ifname());
        for (String address : c.expectedAddresses()) {
            m.element(4, address);
        }
        m.string(5, c.networkName());
        return new Writer().message(3, m).toByteArray();
    }

    static byte[] request(GarbageCollect g) {
        Writer m = new Writer().string(1, g.networkName());
        for (Ref ref : g.valid()) {
            m.message(2, ref(ref));
        }
        return new Writer().message(4, m).toByteArray();
    }

    static byte[] statusRequest() {
        return new Writer().message(5, new Writer()).toByteArray();
    }

    private static Writer ref(Ref ref) {
        return new Writer().string(1, ref.containerId()).string(2, ref.ifname());
    }

    // ---- responses (CniResponse's oneof: attach 1, detach 2, check 3, garbage_collect 4, status 5, error 15)

    sealed interface Response permits Attached, Detached, Checked, Collected, Status, Failed {}

    record Route(String dst, String gw) {}

    record Attached(String ifname, String sandbox, List<String> addresses, List<String> gateways,
            List<Route> routes, int mtu, String publicKey) implements Response {}

    record Detached() implements Response {}

    record Checked() implements Response {}

    record Collected(List<Ref> released) implements Response {}

    record Status(boolean ready, String message, String nodeName) implements Response {}

    /** CniError: {@code code} is a gRPC status code number. */
    record Failed(int code, String message) implements Response {}

    /** An empty message's fields (unknown to us, from a newer node-manager) must still be well formed. */
    private static void skipAll(Reader r) throws MalformedException {
        while (r.hasMore()) {
            r.skip(r.tag());
        }
    }

    static Response response(byte[] bytes) throws MalformedException {
        Reader r = new Reader(bytes);
        Response response = null;
        while (r.hasMore()) {
            int tag = r.tag();
            Response field = switch (tag) {
                case 1 << 3 | 2 -> attached(r.message());
                case 2 << 3 | 2 -> { skipAll(r.message()); yield new Detached(); }
                case 3 << 3 | 2 -> { skipAll(r.message()); yield new Checked(); }
                case 4 << 3 | 2 -> collected(r.message());
                case 5 << 3 | 2 -> status(r.message());
                case 15 << 3 | 2 -> failed(r.message());
                default -> { r.skip(tag); yield null; }
            };
            if (field != null) {
                response = field; // the last member of a oneof wins, as in protobuf
            }
        }
        if (response == null) {
            throw new MalformedException("CniResponse holds no result");
        }
        return response;
    }

    private static Attached attached(Reader r) throws MalformedException {
        String ifname = "";
        String sandbox = "";
        String publicKey = "";
        int mtu = 0;
        List<String> addresses = new ArrayList<>();
        List<String> gateways = new ArrayList<>();
        List<Route> routes = new ArrayList<>();
        while (r.hasMore()) {
            int tag = r.tag();
            switch (tag) {
                case 1 << 3 | 2 -> ifname = r.string();
                case 2 << 3 | 2 -> sandbox = r.string();
                case 3 << 3 | 2 -> addresses.add(r.string());
                case 4 << 3 | 2 -> gateways.add(r.string());
                case 5 << 3 | 2 -> routes.add(route(r.message()));
                case 6 << 3 -> mtu = (int) r.varint();
                case 7 << 3 | 2 -> publicKey = r.string();
                default -> r.skip(tag);
            }
        }
        return new Attached(ifname, sandbox, addresses, gateways, routes, mtu, publicKey);
    }

    private static Route route(Reader r) throws MalformedException {
        String dst = "";
        String gw = "";
        while (r.hasMore()) {
            int tag = r.tag();
            switch (tag) {
                case 1 << 3 | 2 -> dst = r.string();
                case 2 << 3 | 2 -> gw = r.string();
                default -> r.skip(tag);
            }
        }
        return new Route(dst, gw);
    }

    private static Collected collected(Reader r) throws MalformedException {
        List<Ref> released = new ArrayList<>();
        while (r.hasMore()) {
            int tag = r.tag();
            if (tag == (1 << 3 | 2)) {
                Reader ref = r.message();
                String containerId = "";
                String ifname = "";
                while (ref.hasMore()) {
                    int t = ref.tag();
                    switch (t) {
                        case 1 << 3 | 2 -> containerId = ref.string();
                        case 2 << 3 | 2 -> ifname = ref.string();
                        default -> ref.skip(t);
                    }
                }
                released.add(new Ref(containerId, ifname));
            } else {
                r.skip(tag);
            }
        }
        return new Collected(released);
    }

    private static Status status(Reader r) throws MalformedException {
        boolean ready = false;
        String message = "";
        String nodeName = "";
        while (r.hasMore()) {
            int tag = r.tag();
            switch (tag) {
                case 1 << 3 -> ready = r.varint() != 0;
                case 2 << 3 | 2 -> message = r.string();
                case 3 << 3 | 2 -> nodeName = r.string();
                default -> r.skip(tag);
            }
        }
        return new Status(ready, message, nodeName);
    }

    private static Failed failed(Reader r) throws MalformedException {
        int code = 0;
        String message = "";
        while (r.hasMore()) {
            int tag = r.tag();
            switch (tag) {
                case 1 << 3 -> code = (int) r.varint();
                case 2 << 3 | 2 -> message = r.string();
                default -> r.skip(tag);
            }
        }
        return new Failed(code, message);
    }

    static final class MalformedException extends Exception {
        private static final long serialVersionUID = 1L;

        MalformedException(String message) {
            super(message);
        }
    }

    // ---- the wire format: varints (type 0), 64-bit (1), length-delimited (2), 32-bit (5)

    static final class Writer {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream(64);

        /** proto3: a field at its default is not written. */
        Writer string(int field, String value) {
            return value.isEmpty() ? this : element(field, value);
        }

        /** An element of a repeated string field: written even when empty. */
        Writer element(int field, String value) {
            byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
            rawVarint(field << 3 | 2);
            rawVarint(bytes.length);
            out.writeBytes(bytes);
            return this;
        }

        Writer varint(int field, long value) {
            if (value != 0) {
                rawVarint(field << 3);
                rawVarint(value);
            }
            return this;
        }

        Writer message(int field, Writer message) {
            rawVarint(field << 3 | 2);
            rawVarint(message.out.size());
            out.writeBytes(message.out.toByteArray());
            return this;
        }

        private void rawVarint(long value) {
            while ((value & ~0x7fL) != 0) {
                out.write((int) (value & 0x7f) | 0x80);
                value >>>= 7;
            }
            out.write((int) value);
        }

        byte[] toByteArray() {
            return out.toByteArray();
        }
    }

    static final class Reader {
        private final byte[] bytes;
        private int pos;
        private final int end;

        Reader(byte[] bytes) {
            this(bytes, 0, bytes.length);
        }

        private Reader(byte[] bytes, int from, int end) {
            this.bytes = bytes;
            this.pos = from;
            this.end = end;
        }

        boolean hasMore() {
            return pos < end;
        }

        int tag() throws MalformedException {
            long tag = varint();
            if (tag >>> 3 == 0 || tag > Integer.MAX_VALUE) {
                throw new MalformedException("invalid field tag " + tag);
            }
            return (int) tag;
        }

        long varint() throws MalformedException {
            long value = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                if (pos >= end) {
                    throw new MalformedException("truncated varint");
                }
                byte b = bytes[pos++];
                value |= (long) (b & 0x7f) << shift;
                if (b >= 0) {
                    return value;
                }
            }
            throw new MalformedException("varint longer than 10 bytes");
        }

        private int length() throws MalformedException {
            long length = varint();
            if (length < 0 || length > end - pos) {
                throw new MalformedException("length " + length + " exceeds the message");
            }
            return (int) length;
        }

        /** A proto3 string: valid UTF-8 or the message is malformed (as protobuf-java has it). */
        String string() throws MalformedException {
            int length = length();
            String value;
            try {
                value = StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                        .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
                        .decode(java.nio.ByteBuffer.wrap(bytes, pos, length)).toString();
            } catch (java.nio.charset.CharacterCodingException e) {
                throw new MalformedException("a string field is not valid UTF-8");
            }
            pos += length;
            return value;
        }

        Reader message() throws MalformedException {
            int length = length();
            Reader inner = new Reader(bytes, pos, pos + length);
            pos += length;
            return inner;
        }

        /** Skips an unknown field: node-manager may be newer than this plugin. */
        void skip(int tag) throws MalformedException {
            switch (tag & 7) {
                case 0 -> varint();
                case 1 -> advance(8);
                case 2 -> advance(length());
                case 5 -> advance(4);
                default -> throw new MalformedException("unsupported wire type " + (tag & 7));
            }
        }

        private void advance(int n) throws MalformedException {
            if (n > end - pos) {
                throw new MalformedException("field exceeds the message");
            }
            pos += n;
        }
    }
}
