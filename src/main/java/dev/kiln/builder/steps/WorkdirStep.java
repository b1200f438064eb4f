package dev.kiln.builder.steps;

import dev.kiln.builder.dockerfile.Instruction;
import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.exec.ContextCopier;
import dev.kiln.builder.rootfs.RootfsPath;
import dev.kiln.builder.sandbox.RunUser;
import java.io.IOException;

/** WORKDIR: the config's working directory, and the directory itself in the rootfs when it is missing. */
final class WorkdirStep implements BuildStep {
    private final Instruction.Workdir workdir;
    private final String text;

    WorkdirStep(Instruction.Workdir workdir, String text) {
        this.workdir = workdir;
        this.text = text;
    }

    @Override
    public Kind kind() {
        return Kind.WORKDIR;
    }

    @Override
    public void apply(StageContext s) throws IOException, BuildException {
        String user = s.container().user();
        String dir = directory(s);
        s.container(s.container().withWorkingDir(dir));
        // created for the current USER, as BuildKit does, so that user can write in its WORKDIR
        RootfsPath root = RootfsPath.of(s.rootfs());
        ContextCopier.Attributes owner = null;
        if (user != null && !user.isEmpty()) {
            RunUser resolved = RunUser.resolve(root, user);
            owner = new ContextCopier.Attributes(resolved.uid(), resolved.gid(), null);
        }
        BuildSession session = s.session();
        new ContextCopier(session.context(), true, session.ignore(), root).mkdirs(dir, owner);
    }

    @Override
    public String cacheKey(StageContext s) {
        return BuildStep.keyAfter(s, text).part("dir", directory(s)).value();
    }

    @Override
    public void applyConfigOnly(StageContext s) {
        s.container(s.container().withWorkingDir(directory(s)));
    }

    private String directory(StageContext s) {
        return s.absolute(s.scope().expand(workdir.path()));
    }
}
