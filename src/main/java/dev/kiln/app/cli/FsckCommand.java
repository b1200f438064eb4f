package dev.kiln.app.cli;

import dev.kiln.store.Fsck;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "fsck", mixinStandardHelpOptions = true, versionProvider = KilnVersion.class,
        description = "Verify every blob against its digest; quarantine the ones that do not match. Exit 1 when any were bad.")
public class FsckCommand implements Callable<Integer> {
    @Mixin
    StoreOption store;

    @Option(names = "--no-quarantine", description = "Only report bad blobs; leave them in place")
    boolean reportOnly;

    @Override
    public Integer call() throws Exception {
        Fsck.Report report = new Fsck(store.open()).run(!reportOnly);
        report.corrupt().forEach(bad -> System.out.println("corrupt " + bad + (reportOnly ? "" : " (quarantined)")));
        report.danglingLinks().forEach(link -> System.out.println("dangling " + link));
        System.out.printf("checked %d blobs (%d bytes): %d corrupt, %d dangling manifest links%n",
                report.checked(), report.bytes(), report.corrupt().size(), report.danglingLinks().size());
        return report.clean() ? 0 : 1;
    }
}
