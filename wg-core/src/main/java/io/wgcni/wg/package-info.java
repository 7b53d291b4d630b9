/**
 * WireGuard in pure Java: {@code crypto} (primitives), {@code noise} (handshake, cookies, keypairs, replay),
 * {@code device} (peers, timers, allowed IPs, the data plane), {@code io} (the {@code Tun} and {@code Bind}
 * seams and packet buffers) and {@code uapi} (the cross-platform configuration protocol).
 */
package io.wgcni.wg;
