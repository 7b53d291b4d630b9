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

    // ---- node.proto's field numbers, named as node.proto names them, and the two wire types used ----

    private static final int VARINT = 0;
    private static final int LEN = 2;

    private interface CniRequestFields {
        int ATTACH = 1, DETACH = 2, CHECK = 3, GARBAGE_COLLECT = 4, STATUS = 5;
    }

    private interface AttachRequestFields {
        int CONTAINER_ID = 1, NETNS = 2, IFNAME = 3, NETWORK_NAME = 4, MTU = 5, REPLACE_DEFAULT_ROUTE = 6, ARGS = 7;
    }

    /** A map entry (AttachRequest.args). */
    private interface MapEntryFields {
        int KEY = 1, VALUE = 2;
    }

    private interface DetachRequestFields {
        int CONTAINER_ID = 1, NETNS = 2, IFNAME = 3;
    }

    private interface CheckRequestFields {
        int CONTAINER_ID = 1, NETNS = 2, IFNAME = 3, EXPECTED_ADDRESSES = 4, NETWORK_NAME = 5;
    }

    private interface GarbageCollectRequestFields {
        int NETWORK_NAME = 1, VALID = 2;
    }

    private interface AttachmentRefFields {
        int CONTAINER_ID = 1, IFNAME = 2;
    }

    private interface CniResponseFields {
        int ATTACH = 1, DETACH = 2, CHECK = 3, GARBAGE_COLLECT = 4, STATUS = 5, ERROR = 15;
    }

    private interface AttachResponseFields {
        int IFNAME = 1, SANDBOX = 2, ADDRESSES = 3, GATEWAYS = 4, ROUTES = 5, MTU = 6, PUBLIC_KEY = 7;
    }

    private interface RouteFields {
        int DST = 1, GW = 2;
    }

    private interface GarbageCollectResponseFields {
        int RELEASED = 1;
    }

    private interface StatusResponseFields {
        int READY = 1, MESSAGE = 2, NODE_NAME = 3;
    }

    private interface CniErrorFields {
        int CODE = 1, MESSAGE = 2;
    }

    // ---- requests

    record Attach(String containerId, String netns, String ifname, String networkName, int mtu,
            boolean replaceDefaultRoute, Map<String, String> args) {}

    record Detach(String containerId, String netns, String ifname) {}

    record Check(String containerId, String netns, String ifname, List<String> expectedAddresses, String networkName) {}

    record Ref(String containerId, String ifname) {}

    record GarbageCollect(String networkName, List<Ref> valid) {}

    static byte[] request(Attach a) {
        Writer m = new Writer()
                .string(AttachRequestFields.CONTAINER_ID, a.containerId())
                .string(AttachRequestFields.NETNS, a.netns())
                .string(AttachRequestFields.IFNAME, a.ifname())
                .string(AttachRequestFields.NETWORK_NAME, a.networkName())
                .varint(AttachRequestFields.MTU, a.mtu())
                .varint(AttachRequestFields.REPLACE_DEFAULT_ROUTE, a.replaceDefaultRoute() ? 1 : 0);
        for (Map.Entry<String, String> arg : a.args().entrySet()) {
            m.message(AttachRequestFields.ARGS, new Writer().string(MapEntryFields.KEY, arg.getKey())
                    .string(MapEntryFields.VALUE, arg.getValue()));
        }
        return new Writer().message(CniRequestFields.ATTACH, m).toByteArray();
    }

    static byte[] request(Detach d) {
        return new Writer().message(CniRequestFields.DETACH, new Writer()
                .string(DetachRequestFields.CONTAINER_ID, d.containerId())
                .string(DetachRequestFields.NETNS, d.netns())
                .string(DetachRequestFields.IFNAME, d.ifname())).toByteArray();
    }

    static byte[] request(Check c) {
        Writer m = new Writer()
                .string(CheckRequestFields.CONTAINER_ID, c.containerId())
                .string(CheckRequestFields.NETNS, c.netns())
                .string(CheckRequestFields.IFNAME, c.ifname());
        for (String address : c.expectedAddresses()) {
            m.element(CheckRequestFields.EXPECTED_ADDRESSES, address);
        }
        m.string(CheckRequestFields.NETWORK_NAME, c.networkName());
        return new Writer().message(CniRequestFields.CHECK, m).toByteArray();
    }

    static byte[] request(GarbageCollect g) {
        Writer m = new Writer().string(GarbageCollectRequestFields.NETWORK_NAME, g.networkName());
        for (Ref ref : g.valid()) {
            m.message(GarbageCollectRequestFields.VALID, ref(ref));
        }
        return new Writer().message(CniRequestFields.GARBAGE_COLLECT, m).toByteArray();
    }

    static byte[] statusRequest() {
        return new Writer().message(CniRequestFields.STATUS, new Writer()).toByteArray();
    }

    private static Writer ref(Ref ref) {
        return new Writer().string(AttachmentRefFields.CONTAINER_ID, ref.containerId())
                .string(AttachmentRefFields.IFNAME, ref.ifname());
    }

    // ---- responses

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
                case CniResponseFields.ATTACH << 3 | LEN -> attached(r.message());
                case CniResponseFields.DETACH << 3 | LEN -> { skipAll(r.message()); yield new Detached(); }
                case CniResponseFields.CHECK << 3 | LEN -> { skipAll(r.message()); yield new Checked(); }
                case CniResponseFields.GARBAGE_COLLECT << 3 | LEN -> collected(r.message());
                case CniResponseFields.STATUS << 3 | LEN -> status(r.message());
                case CniResponseFields.ERROR << 3 | LEN -> failed(r.message());
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
                case AttachResponseFields.IFNAME << 3 | LEN -> ifname = r.string();
                case AttachResponseFields.SANDBOX << 3 | LEN -> sandbox = r.string();
                case AttachResponseFields.ADDRESSES << 3 | LEN -> addresses.add(r.string());
                case AttachResponseFields.GATEWAYS << 3 | LEN -> gateways.add(r.string());
                case AttachResponseFields.ROUTES << 3 | LEN -> routes.add(route(r.message()));
                case AttachResponseFields.MTU << 3 | VARINT -> mtu = (int) r.varint();
                case AttachResponseFields.PUBLIC_KEY << 3 | LEN -> publicKey = r.string();
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
                case RouteFields.DST << 3 | LEN -> dst = r.string();
                case RouteFields.GW << 3 | LEN -> gw = r.string();
                default -> r.skip(tag);
            }
        }
        return new Route(dst, gw);
    }

    private static Collected collected(Reader r) throws MalformedException {
        List<Ref> released = new ArrayList<>();
        while (r.hasMore()) {
            int tag = r.tag();
            if (tag == (GarbageCollectResponseFields.RELEASED << 3 | LEN)) {
                Reader ref = r.message();
                String containerId = "";
                String ifname = "";
                while (ref.hasMore()) {
                    int t = ref.tag();
                    switch (t) {
                        case AttachmentRefFields.CONTAINER_ID << 3 | LEN -> containerId = ref.string();
                        case AttachmentRefFields.IFNAME << 3 | LEN -> ifname = ref.string();
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
                case StatusResponseFields.READY << 3 | VARINT -> ready = r.varint() != 0;
                case StatusResponseFields.MESSAGE << 3 | LEN -> message = r.string();
                case StatusResponseFields.NODE_NAME << 3 | LEN -> nodeName = r.string();
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
                case CniErrorFields.CODE << 3 | VARINT -> code = (int) r.varint();
                case CniErrorFields.MESSAGE << 3 | LEN -> message = r.string();
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
            rawVarint(field << 3 | LEN);
            rawVarint(bytes.length);
            out.writeBytes(bytes);
            return this;
        }

        Writer varint(int field, long value) {
            if (value != 0) {
                rawVarint(field << 3 | VARINT);
                rawVarint(value);
            }
            return this;
        }

        Writer message(int field, Writer message) {
            rawVarint(field << 3 | LEN);
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
