package dev.kiln.builder.sandbox;

/** The same cases through the user-namespace variant an unprivileged caller gets (here started as root). */
class UserNamespaceSandboxTest extends NamespaceSandboxTest {
    @Override
    Sandbox sandbox() {
        return new NamespaceSandbox(false);
    }

    @Override
    boolean privileged() {
        return false;
    }
}
