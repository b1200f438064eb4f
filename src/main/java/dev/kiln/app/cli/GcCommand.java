package dev.kiln.app.cli;

import dev.kiln.app.config.Durations;
import dev.kiln.store.GarbageCollector;
import java.time.Clock;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "gc", mixinStandardHelpOptions = true, versionProvider = KilnVersion.class,
        description = "Remove blobs that no manifest references and upload sessions that expired. Safe while the gateway runs.")
public class GcCommand implements Callable<Integer> {
    @Mixin
    StoreOption store;

    @Option(names = "--grace", defaultValue = "1h", description = "Keep unreferenced blobs younger than this (default ${DEFAULT-VALUE})")
    String grace;

    @Option(names = "--upload-ttl", defaultValue = "24h", description = "Remove upload sessions idle for longer (default ${DEFAULT-VALUE})")
    String uploadTtl;

    @Override
    public Integer call() throws Exception {
        GarbageCollector.Report report = new GarbageCollector(store.open(), Durations.parse(grace), Clock.systemUTC())
                .run(Durations.parse(uploadTtl));
        System.out.printf("removed %d blobs (%d bytes), kept %d; removed %d dangling links and %d expired uploads%n",
                report.blobsRemoved(), report.bytesRemoved(), report.blobsKept(), report.linksRemoved(), report.uploadsExpired());
        return 0;
    }
}
