/**
 * The egress proxy: the only way out of a RUN that is allowed the network, refusing private,
 * loopback and link-local destinations the operator did not allow. Free of Quarkus.
 */
package dev.kiln.builder.egress;
