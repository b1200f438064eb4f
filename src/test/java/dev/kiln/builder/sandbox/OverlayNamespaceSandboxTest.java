package dev.kiln.builder.sandbox;

import dev.kiln.builder.snapshot.OverlaySnapshotter;
import dev.kiln.builder.snapshot.TreeScanner;
import dev.kiln.oci.layer.Compression;
import dev.kiln.oci.layer.LayerWriter;
import dev.kiln.oci.layer.MtimePolicy;
import java.io.IOException;
import java.io.OutputStream;

/**
 * Every namespace sandbox case again with the command on an overlay of the rootfs, applied back
 * by the overlay snapshotter right after: mounts, scaffolding, users, the working directory and
 * isolation must behave as without it.
 */
class OverlayNamespaceSandboxTest extends NamespaceSandboxTest {
    @Override
    Sandbox sandbox() {
        return onOverlay(new NamespaceSandbox(true));
    }

    /** Runs each spec through an overlay snapshotter that refuses to fall back, then applies the change. */
    static Sandbox onOverlay(NamespaceSandbox sandbox) {
        return new Sandbox() {
            @Override
            public ExecResult run(RunSpec spec) throws IOException, InterruptedException {
                OverlaySnapshotter snapshotter = OverlaySnapshotter.startingNow(spec.rootfs(), TreeScanner.withDefaults(),
                        new LayerWriter(Compression.none(), MtimePolicy.keep()), w -> { }, true);
                try {
                    return snapshotter.run(sandbox, spec);
                } finally {
                    snapshotter.snapshot(OutputStream.nullOutputStream());
                }
            }

            @Override
            public String name() {
                return sandbox.name();
            }
        };
    }
}
