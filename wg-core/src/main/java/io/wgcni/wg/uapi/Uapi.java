package io.wgcni.wg.uapi;

import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.device.Device;
import io.wgcni.wg.device.Peer;
import io.wgcni.wg.device.Prefix;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.noise.StaticIdentity;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.Writer;
import java.net.BindException;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cross-platform userspace configuration protocol (wireguard.com/xplatform), as {@code wg} and wireguard-go
 * speak it: {@code get=1} dumps the device, {@code set=1} applies key=value lines. A set is parsed and validated
 * whole before anything is applied, so a bad line changes nothing and answers {@code errno=22}; a set that would
 * exceed {@link Device#MAX_PEERS} changes nothing either ({@code errno=28}), and one whose port or fwmark cannot
 * be applied is rolled back. Every failed set is answered with its {@code errno=}. Lines are at most
 * {@value #MAX_LINE} characters and a set at most {@value #MAX_SET_LINES} lines: beyond, the client gets
 * {@code errno=90} and is disconnected (the rest of its request cannot be told apart from a next one). One
 * extension, {@code stats=1}, lists the device's drop counters (wireguard-go would close the connection on it).
 */
public final class Uapi {
    private static final Logger log = LoggerFactory.getLogger(Uapi.class);
    /** Far beyond the longest valid line (an endpoint with a scoped IPv6 address, a key in hex). */
    public static final int MAX_LINE = 4096;
    /** Room for a full device: every peer with a key, an endpoint, a few allowed IPs. */
    public static final int MAX_SET_LINES = 1 << 20;

    /** A line or a request beyond the limits. */
    static final class TooLongException extends IOException {
        private static final long serialVersionUID = 1L;

        TooLongException(String message) {
            super(message);
        }
    }

    /** {@link BufferedReader#readLine} for '\n'-terminated lines, refusing one longer than {@link #MAX_LINE}. */
    static String readLine(BufferedReader in) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int c; (c = in.read()) != -1; ) {
            if (c == '\n') {
                return sb.toString();
            }
            if (sb.length() == MAX_LINE) {
                throw new TooLongException("a line longer than " + MAX_LINE + " characters");
            }
            sb.append((char) c);
        }
        return sb.isEmpty() ? null : sb.toString();
    }

    private Uapi() {}

    /** Serves one client connection: operations until EOF or an unknown operation, as wireguard-go does. */
    public static void serve(Device device, BufferedReader in, Writer out) throws IOException {
        try {
            serveOperations(device, in, out);
        } catch (TooLongException e) {
            log.warn("{}: UAPI request refused: {}", device.name(), e.getMessage());
            out.write("errno=" + UapiException.EMSGSIZE + "\n\n");
            out.flush();
        }
    }

    private static void serveOperations(Device device, BufferedReader in, Writer out) throws IOException {
        for (String op; (op = readLine(in)) != null; ) {
            int errno = 0;
            switch (op) {
                case "get=1" -> {
                    String blank = readLine(in);
                    if (blank == null) {
                        return;
                    }
                    if (!blank.isEmpty()) {
                        errno = UapiException.EINVAL;
                        log.warn("{}: UAPI get followed by {} instead of an empty line", device.name(), quote(blank));
                    } else {
                        out.write(get(device));
                    }
                }
                case "set=1" -> {
                    List<String> lines = new ArrayList<>();
                    for (String line; (line = readLine(in)) != null && !line.isEmpty(); ) {
                        if (lines.size() == MAX_SET_LINES) {
                            throw new TooLongException("a set of more than " + MAX_SET_LINES + " lines");
                        }
                        lines.add(line);
                    }
                    errno = set(device, lines);
                }
                case "stats=1" -> {
                    // Our extension (wg never sends it): the drop counters, one key=value a line.
                    if (!"".equals(readLine(in))) {
                        return;
                    }
                    device.counters().forEach((k, v) -> {
                        try {
                            out.write(k + "=" + v + "\n");
                        } catch (IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    });
                }
                default -> {
                    log.warn("{}: invalid UAPI operation {}", device.name(), quote(op));
                    return;
                }
            }
            out.write("errno=" + errno + "\n\n");
            out.flush();
        }
    }

    /** The body of a {@code get=1} reply, without its closing {@code errno=0} line. */
    public static String get(Device device) {
        StringBuilder sb = new StringBuilder();
        StaticIdentity id = device.identity();
        if (id != null) {
            line(sb, "private_key", id.privateKey().toHex());
        }
        if (device.listenPort() != 0) {
            line(sb, "listen_port", device.listenPort());
        }
        if (device.fwmark() != 0) {
            line(sb, "fwmark", Integer.toUnsignedString(device.fwmark()));
        }
        for (Peer peer : device.peers()) {
            line(sb, "public_key", peer.publicKey().toHex());
            line(sb, "preshared_key", peer.presharedKey().toHex());
            line(sb, "protocol_version", 1);
            Endpoint endpoint = peer.endpoint();
            if (endpoint != null) {
                line(sb, "endpoint", endpoint.toString());
            }
            long handshake = peer.lastHandshakeEpochNanos();
            line(sb, "last_handshake_time_sec", handshake / 1_000_000_000L);
            line(sb, "last_handshake_time_nsec", handshake % 1_000_000_000L);
            line(sb, "tx_bytes", peer.txBytes());
            line(sb, "rx_bytes", peer.rxBytes());
            line(sb, "persistent_keepalive_interval", peer.persistentKeepaliveInterval());
            for (Prefix p : peer.allowedIps()) {
                line(sb, "allowed_ip", p.toString());
            }
        }
        return sb.toString();
    }

    /** Applies a {@code set=1} body; returns 0 or the errno of the first problem, having changed nothing then. */
    public static int set(Device device, List<String> lines) {
        try {
            Plan plan = Plan.parse(lines);
            // One set at a time: the peer-count check and the changes it admits must not interleave with another.
            synchronized (device) {
                plan.apply(device);
            }
            return 0;
        } catch (UapiException e) {
            log.warn("{}: UAPI set refused: {}", device.name(), e.getMessage());
            return e.errno();
        } catch (RuntimeException e) {
            // A failure nobody foresaw still gets its answer, never a dropped connection.
            log.error("{}: UAPI set failed", device.name(), e);
            return UapiException.EIO;
        }
    }

    private static void line(StringBuilder sb, String key, Object value) {
        sb.append(key).append('=').append(value).append('\n');
    }

    static String quote(String s) {
        String cut = s.length() > 80 ? s.substring(0, 80) + "…" : s;
        return '"' + cut.replaceAll("[^\\x20-\\x7e]", "?") + '"';
    }

    /** A parsed, validated {@code set}: device changes and one section per peer, applied in order. */
    private record Plan(Key privateKey, Integer listenPort, Integer fwmark, boolean replacePeers,
                        List<PeerPlan> peers) {

        static Plan parse(List<String> lines) throws UapiException {
            Key privateKey = null;
            Integer listenPort = null;
            Integer fwmark = null;
            boolean replacePeers = false;
            List<PeerPlan> peers = new ArrayList<>();
            PeerPlan peer = null;
            for (String line : lines) {
                int eq = line.indexOf('=');
                if (eq <= 0) {
                    throw new UapiException(UapiException.EPROTO, "failed to parse line " + quote(line));
                }
                String key = line.substring(0, eq);
                String value = line.substring(eq + 1);
                if (key.equals("public_key")) {
                    peer = new PeerPlan(parseKey(key, value));
                    peers.add(peer);
                } else if (peer == null) {
                    switch (key) {
                        case "private_key" -> privateKey = parseKey(key, value);
                        case "listen_port" -> listenPort = (int) parseUnsigned(key, value, 65535);
                        case "fwmark" -> fwmark = (int) parseUnsigned(key, value, 0xffff_ffffL);
                        case "replace_peers" -> replacePeers = parseTrue(key, value);
                        default -> throw invalid("invalid UAPI device key " + quote(key));
                    }
                } else {
                    peer.parse(key, value);
                }
            }
            return new Plan(privateKey, listenPort, fwmark, replacePeers, peers);
        }

        /** How many peers the device would have once applied; refused beyond the limit, before any change. */
        void checkPeerLimit(Device device) throws UapiException {
            java.util.Set<Key> after = new java.util.HashSet<>();
            if (!replacePeers) {
                device.peers().forEach(p -> after.add(p.publicKey()));
            }
            Key own = privateKey != null && !privateKey.isZero() ? io.wgcni.wg.crypto.X25519.publicKey(privateKey)
                    : device.identity() == null ? null : device.identity().publicKey();
            if (own != null) {
                after.remove(own); // a device has no peer with its own key
            }
            for (PeerPlan p : peers) {
                if (p.remove) {
                    after.remove(p.publicKey);
                } else if (!(p.updateOnly && !after.contains(p.publicKey)) && !p.publicKey.equals(own)) {
                    after.add(p.publicKey);
                }
            }
            if (after.size() > Device.MAX_PEERS) {
                throw new UapiException(UapiException.ENOSPC, "the set would leave " + after.size() + " peers (limit "
                        + Device.MAX_PEERS + ")");
            }
        }

        void apply(Device device) throws UapiException {
            checkPeerLimit(device);
            // The steps that can fail on a valid request go first, each undone if a later one fails, so that a
            // failure changes nothing.
            int oldPort = device.listenPort();
            int oldMark = device.fwmark();
            if (listenPort != null) {
                try {
                    device.setListenPort(listenPort);
                } catch (BindException e) {
                    throw new UapiException(UapiException.EADDRINUSE, "listen port " + listenPort + " is in use");
                } catch (IOException e) {
                    throw new UapiException(UapiException.EIO,
                            "cannot bind port " + listenPort + ": " + e.getMessage());
                }
            }
            if (fwmark != null) {
                try {
                    device.setFwmark(fwmark);
                } catch (IOException e) {
                    restore(device, oldPort, oldMark);
                    throw new UapiException(UapiException.EIO, "cannot set fwmark: " + e.getMessage());
                }
            }
            if (privateKey != null) {
                device.setPrivateKey(privateKey);
            }
            if (replacePeers) {
                device.removeAllPeers();
            }
            StaticIdentity id = device.identity();
            for (PeerPlan p : peers) {
                // wireguard-go ignores a peer whose key is the device's own; so do we.
                if (id == null || !id.publicKey().equals(p.publicKey)) {
                    p.apply(device);
                }
            }
        }
    }

    /** Puts the port and the mark back as they were, as far as the system lets us. */
    private static void restore(Device device, int port, int mark) {
        try {
            device.setFwmark(mark);
        } catch (IOException e) {
            log.warn("{}: could not restore fwmark {}: {}", device.name(), Integer.toUnsignedString(mark),
                    e.getMessage());
        }
        if (device.listenPort() != port) {
            try {
                device.setListenPort(port);
            } catch (IOException e) {
                log.warn("{}: could not rebind the previous listen port {}: {}", device.name(), port, e.getMessage());
            }
        }
    }

    /** One {@code public_key=} section. */
    private static final class PeerPlan {
        final Key publicKey;
        boolean updateOnly;
        boolean remove;
        Key presharedKey;
        Endpoint endpoint;
        Integer persistentKeepalive;
        boolean replaceAllowedIps;
        final List<Prefix> allowedIps = new ArrayList<>();

        PeerPlan(Key publicKey) {
            this.publicKey = publicKey;
        }

        void parse(String key, String value) throws UapiException {
            switch (key) {
                case "update_only" -> updateOnly = parseTrue(key, value);
                case "remove" -> remove = parseTrue(key, value);
                case "preshared_key" -> presharedKey = parseKey(key, value);
                case "endpoint" -> {
                    try {
                        endpoint = Endpoint.parse(value);
                    } catch (IllegalArgumentException e) {
                        throw invalid("invalid endpoint " + quote(value) + ": " + e.getMessage());
                    }
                }
                case "persistent_keepalive_interval" -> persistentKeepalive = (int) parseUnsigned(key, value, 65535);
                case "replace_allowed_ips" -> replaceAllowedIps = parseTrue(key, value);
                case "allowed_ip" -> {
                    try {
                        allowedIps.add(Prefix.parse(value));
                    } catch (IllegalArgumentException e) {
                        throw invalid("invalid allowed_ip " + quote(value) + ": " + e.getMessage());
                    }
                }
                case "protocol_version" -> {
                    if (!value.equals("1")) {
                        throw invalid("invalid protocol_version " + quote(value) + ": only 1 is supported");
                    }
                }
                default -> throw invalid("invalid UAPI peer key " + quote(key));
            }
        }

        void apply(Device device) {
            if (remove) {
                device.removePeer(publicKey);
                return;
            }
            Peer peer = device.peer(publicKey);
            if (peer == null) {
                if (updateOnly) {
                    return;
                }
                peer = device.addPeer(publicKey);
            }
            if (presharedKey != null) {
                peer.setPresharedKey(presharedKey);
            }
            if (endpoint != null) {
                peer.setEndpoint(endpoint);
            }
            if (replaceAllowedIps) {
                device.removeAllowedIps(peer);
            }
            for (Prefix p : allowedIps) {
                device.addAllowedIp(peer, p);
            }
            if (persistentKeepalive != null) {
                peer.setPersistentKeepaliveInterval(persistentKeepalive);
            }
        }
    }

    private static Key parseKey(String key, String value) throws UapiException {
        try {
            return Key.fromHex(value);
        } catch (IllegalArgumentException e) {
            throw invalid("invalid " + key + ": " + e.getMessage());
        }
    }

    private static long parseUnsigned(String key, String value, long max) throws UapiException {
        try {
            long v = Long.parseLong(value);
            if (v < 0 || v > max || !value.chars().allMatch(Character::isDigit)) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw invalid("invalid " + key + " " + quote(value) + ": expected 0.." + max);
        }
    }

    private static boolean parseTrue(String key, String value) throws UapiException {
        if (!value.equals("true")) {
            throw invalid("invalid " + key + " " + quote(value) + ": the only accepted value is true");
        }
        return true;
    }

    private static UapiException invalid(String message) {
        return new UapiException(UapiException.EINVAL, message);
    }
}
