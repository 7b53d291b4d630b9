package io.wgcni.tun;

import java.util.Locale;

/**
 * The off switches of the offloads, for when a kernel or a driver gets one wrong. Each is an environment variable
 * (as users of wireguard-go expect) or a system property, and every offload also turns itself off when the kernel
 * refuses it:
 *
 * <pre>
 * WG_DISABLE_TUN_OFFLOAD=1   -Dwgcni.tun.offload=false   TUN without IFF_VNET_HDR: no superpackets, plain checksums
 * WG_DISABLE_UDP_GSO=1       -Dwgcni.udp.gso=false       one datagram per send slot, no UDP_SEGMENT trains
 * WG_DISABLE_UDP_GRO=1       -Dwgcni.udp.gro=false       no UDP_GRO: one datagram per receive slot
 * </pre>
 */
public enum Offloads {
    TUN_OFFLOAD("wgcni.tun.offload"),
    UDP_GSO("wgcni.udp.gso"),
    UDP_GRO("wgcni.udp.gro");

    private final String property;

    Offloads(String property) {
        this.property = property;
    }

    /** False when the environment variable {@code WG_DISABLE_<NAME>} is set (not 0) or the property is false. */
    public boolean enabled() {
        String env = System.getenv("WG_DISABLE_" + name());
        if (env != null && !env.isBlank() && !env.trim().equals("0")) {
            return false;
        }
        return !"false".equals(System.getProperty(property, "true").trim().toLowerCase(Locale.ROOT));
    }

    /** Whether the running kernel is at least {@code major.minor} (from {@code os.version}, e.g. "6.1.0-13-amd64"). */
    static boolean kernelAtLeast(int major, int minor) {
        String[] v = System.getProperty("os.version", "0.0").split("[.-]");
        try {
            int ma = Integer.parseInt(v[0]);
            int mi = v.length > 1 ? Integer.parseInt(v[1]) : 0;
            return ma > major || ma == major && mi >= minor;
        } catch (NumberFormatException e) {
            return false;
        }
    }
}
