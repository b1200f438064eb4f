package dev.kiln.builder.layers;

import dev.kiln.oci.Digest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A build's process as {@link LayerStoreMountTest} kills it: stacks one layer by overlayfs, says
 * so on stdout, then waits to be killed with its rootfs mounted.
 * Arguments: store directory, layer tar, empty rootfs directory.
 */
public final class KilledMountMain {
    private KilledMountMain() {
    }

    public static void main(String[] args) throws Exception {
        Path tar = Path.of(args[1]);
        LayerStore.Layer layer = new LayerStore.Layer(Digest.sha256(Files.readAllBytes(tar)), () -> tar);
        LayerStore.open(Path.of(args[0]), Long.MAX_VALUE).assemble(List.of(layer), Path.of(args[2]), LayerStore.Mode.OVERLAY,
                System.err::println);
        System.out.println("MOUNTED");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
