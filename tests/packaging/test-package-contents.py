#!/usr/bin/env python3
"""The packages hold what the units, bus files and daemon refer to, and agree.

usage: test-package-contents.py SRCDIR BUILDDIR [DEB]

From `meson introspect --installed` (mapped onto a /usr prefix, as the
packages configure it), checks that:
  - every path the units, D-Bus files, daemon and man references name is
    installed (ExecStart, SystemdService=, Exec=, Documentation=, the demo
    model, the configuration file the daemon reads);
  - the user, group, bus name and socket path agree across sysusers, units,
    bus policy, introspection XML and the daemon's defaults;
  - the RPM %files list (rpmspec -P) is exactly the installed set plus the
    files the spec adds from the source tree;
  - meson, debian/changelog, the RPM spec and the PKGBUILD carry one version;
  - with DEB, the .deb holds exactly the installed set (plus its docs).
"""
import json
import os
import re
import shutil
import subprocess
import sys

src, build = sys.argv[1], sys.argv[2]
deb = sys.argv[3] if len(sys.argv) > 3 else os.environ.get("VKINFER_DEB")
errors = []


def bad(msg):
    errors.append(msg)
    print("FAIL:", msg, file=sys.stderr)


def read(rel):
    with open(os.path.join(src, rel), encoding="utf-8") as f:
        return f.read()


def ini_values(text, key):
    return [m.group(1).strip() for m in re.finditer(r"^%s=(.*)$" % re.escape(key), text, re.M)]


# --- what meson installs, as a /usr package lays it out ---------------------
opts = {o["name"]: o["value"] for o in json.loads(subprocess.check_output(
    ["meson", "introspect", "--buildoptions", build], text=True))}
prefix = opts["prefix"]
sysconf = opts["sysconfdir"]
sysconf = sysconf if sysconf.startswith("/") else os.path.join(prefix, sysconf)
installed_raw = json.loads(subprocess.check_output(
    ["meson", "introspect", "--installed", build], text=True)).values()


def to_package_path(p):
    if p.startswith(sysconf + "/"):
        return "/etc/" + p[len(sysconf) + 1:]
    for d in ("/lib/systemd/", "/usr/lib/systemd/"):  # Debian 12's systemd.pc says /lib
        if p.startswith(d):
            return "/usr/lib/systemd/" + p[len(d):]
    if p.startswith(prefix + "/"):
        return "/usr/" + p[len(prefix) + 1:]
    return p


installed = {to_package_path(p) for p in installed_raw}
if not installed:
    bad("meson installs nothing")


def need(path, why):
    if path not in installed:
        bad("%s names %s, which is not installed" % (why, path))


sbindir = "/usr/sbin"
service = read("packaging/systemd/vkinferd.service.in").replace("@sbindir@", sbindir)
socket = read("packaging/systemd/vkinferd.socket")
user_service = read("packaging/systemd/user/vkinferd.service.in").replace("@sbindir@", sbindir)
user_socket = read("packaging/systemd/user/vkinferd.socket")
sysusers = read("packaging/sysusers.conf")
tmpfiles = read("packaging/tmpfiles.conf")
bus_policy = read("packaging/dbus/org.vkinfer.Inference1.conf")
bus_system = read("packaging/dbus/org.vkinfer.Inference1.system.service")
bus_user = read("packaging/dbus/org.vkinfer.Inference1.user.service.in").replace("@sbindir@", sbindir)
bus_xml = read("packaging/dbus/org.vkinfer.Inference1.xml")

# --- executables and units --------------------------------------------------
for text, what in ((service, "vkinferd.service"), (user_service, "user vkinferd.service")):
    for cmd in ini_values(text, "ExecStart"):
        need(cmd.split()[0], what + " ExecStart")
need("/usr/bin/vkinfer", "README")
for unit in ("vkinferd.service", "vkinferd.socket"):
    need("/usr/lib/systemd/system/" + unit, "the system instance")
    need("/usr/lib/systemd/user/" + unit, "the user instance")
for text, what in ((service, "vkinferd.service"), (socket, "vkinferd.socket"),
                   (user_service, "user vkinferd.service"), (user_socket, "user vkinferd.socket")):
    for doc in " ".join(ini_values(text, "Documentation")).split():
        m = re.match(r"man:([\w.-]+)\((\d)\)$", doc)
        if not m:
            bad("%s: Documentation=%s is not a man: reference" % (what, doc))
            continue
        need("/usr/share/man/man%s/%s.%s" % (m.group(2), m.group(1), m.group(2)), what + " Documentation=")
for page in ("man1/vkinfer.1", "man8/vkinferd.8", "man5/vkinferd.conf.5"):
    need("/usr/share/man/" + page, "issue 7's list of man pages")

# --- one user, one group, one bus name, one socket path ---------------------
users = re.findall(r"^u\s+(\S+)", sysusers, re.M)
if len(users) != 1:
    bad("sysusers.conf should create exactly one user, has %s" % users)
user = users[0] if users else None
for key, text, what in (("User", service, "vkinferd.service"), ("Group", service, "vkinferd.service"),
                        ("SocketGroup", socket, "vkinferd.socket"), ("User", bus_system, "system bus .service")):
    if ini_values(text, key) != [user]:
        bad("%s %s=%s, sysusers creates %s" % (what, key, ini_values(text, key), user))
for attr in re.findall(r'<policy (?:user|group)="([^"]+)"', bus_policy):
    if attr not in (user, "root"):
        bad("bus policy names %s, sysusers creates %s" % (attr, user))
home = re.findall(r"^u\s+\S+\s+\S+\s+\"[^\"]*\"\s+(\S+)", sysusers, re.M)
state = ini_values(service, "StateDirectory")
if home != ["/var/lib/" + s for s in state]:
    bad("sysusers home %s is not the StateDirectory %s" % (home, state))
for path in re.findall(r"^d\s+(\S+)", tmpfiles, re.M):
    if not path.startswith(tuple(home)):
        bad("tmpfiles.conf creates %s outside the service's state directory" % path)

bus_names = set(re.findall(r'<allow own="([^"]+)"', bus_policy))
bus_names |= set(ini_values(bus_system, "Name")) | set(ini_values(bus_user, "Name"))
bus_names |= set(re.findall(r'<interface name="(org\.vkinfer\.[A-Za-z0-9]+)"', bus_xml))
if len(bus_names) != 1:
    bad("bus name differs between policy, activation files and XML: %s" % sorted(bus_names))
bus_name = bus_names.pop() if len(bus_names) == 1 else "?"
for text, unitdir, what in ((bus_system, "system", "system bus .service"), (bus_user, "user", "session bus .service")):
    for unit in ini_values(text, "SystemdService"):
        need("/usr/lib/systemd/%s/%s" % (unitdir, unit), what + " SystemdService=")
for cmd in ini_values(bus_user, "Exec"):
    need(cmd.split()[0], "session bus .service Exec=")
if "dbus-%s.service" % bus_name not in ini_values(service, "Alias"):
    bad("vkinferd.service lacks Alias=dbus-%s.service" % bus_name)
need("/usr/share/dbus-1/interfaces/%s.xml" % bus_name, "the D-Bus interface")
need("/usr/share/dbus-1/system.d/%s.conf" % bus_name, "the system bus policy")
need("/usr/share/dbus-1/system-services/%s.service" % bus_name, "system bus activation")
need("/usr/share/dbus-1/services/%s.service" % bus_name, "session bus activation")

daemon_src = read("daemon/config.c") + read("daemon/vkinferd.c")
sock = ini_values(socket, "ListenStream")
if sock != ["/run/vkinfer/vkinfer.sock"] or '"/run/vkinfer/vkinfer.sock"' not in daemon_src:
    bad("socket unit ListenStream=%s differs from vkinferd's default /run/vkinfer/vkinfer.sock" % sock)
if ini_values(user_socket, "ListenStream") != ["%t/vkinfer/vkinfer.sock"] or '"%s/vkinfer/vkinfer.sock"' not in daemon_src:
    bad("user socket differs from vkinferd --user's default $XDG_RUNTIME_DIR/vkinfer/vkinfer.sock")
if '"/etc/vkinfer/vkinferd.conf"' not in daemon_src:
    bad("vkinferd no longer reads /etc/vkinfer/vkinferd.conf")
need("/etc/vkinfer/vkinferd.conf", "vkinferd's default configuration path")
demo = re.search(r"VKINFER_DEMO_MODEL=\"@0@\"'\.format\(get_option\('prefix'\) / get_option\('datadir'\) / '([^']+)'",
                 read("daemon/meson.build"))
if not demo:
    bad("cannot find VKINFER_DEMO_MODEL in daemon/meson.build")
else:
    need("/usr/share/" + demo.group(1), "vkinferd's demo model (VKINFER_DEMO_MODEL)")

# --- one version everywhere ---------------------------------------------------
version = re.search(r"version\s*:\s*'([^']+)'", read("meson.build")).group(1)
versions = {
    "debian/changelog": re.match(r"vkinfer \(([^)-]+)", read("debian/changelog")).group(1),
    "packaging/rpm/vkinfer.spec": re.search(r"^Version:\s*(\S+)", read("packaging/rpm/vkinfer.spec"), re.M).group(1),
    "packaging/arch/PKGBUILD": re.search(r"^pkgver=(\S+)", read("packaging/arch/PKGBUILD"), re.M).group(1),
}
for where, v in versions.items():
    if v != version:
        bad("%s says version %s, meson.build %s" % (where, v, version))

# --- the RPM lists exactly what meson installs --------------------------------
spec = read("packaging/rpm/vkinfer.spec")
sysusers_line = re.search(r"echo '(u [^']+)'", spec)
if not sysusers_line or sysusers_line.group(1) not in sysusers:
    bad("the spec's %pre sysusers line differs from packaging/sysusers.conf")
rpm_macros = {
    "_prefix": "/usr", "_bindir": "/usr/bin", "_sbindir": "/usr/sbin", "_datadir": "/usr/share",
    "_mandir": "/usr/share/man", "_sysconfdir": "/etc", "_unitdir": "/usr/lib/systemd/system",
    "_userunitdir": "/usr/lib/systemd/user", "_presetdir": "/usr/lib/systemd/system-preset",
    "_sysusersdir": "/usr/lib/sysusers.d", "_tmpfilesdir": "/usr/lib/tmpfiles.d",
}
if shutil.which("rpmspec"):
    cmd = ["rpmspec", "-P", os.path.join(src, "packaging/rpm/vkinfer.spec")]
    for k, v in rpm_macros.items():
        cmd += ["--define", "%s %s" % (k, v)]
    spec = subprocess.check_output(cmd, text=True, stderr=subprocess.DEVNULL)
else:  # expand the path macros by hand
    for k, v in rpm_macros.items():
        spec = spec.replace("%%{%s}" % k, v)
files = spec.split("\n%files", 1)[1].split("\n%changelog", 1)[0].splitlines()[1:]
rpm_files = set()
for line in files:
    line = line.strip()
    if not line or line.startswith(("%dir", "%license", "%doc", "#")):
        continue
    path = line.split()[-1]
    if path.endswith("*"):  # man pages: compressed by rpm
        path = path[:-1]
    rpm_files.add(path)
extra = {"/usr/lib/systemd/system-preset/80-vkinfer.preset"}
if not os.path.exists(os.path.join(src, "packaging/systemd/80-vkinfer.preset")):
    bad("the spec installs packaging/systemd/80-vkinfer.preset, which is missing")
for p in sorted(installed - rpm_files):
    bad("RPM %%files misses %s" % p)
for p in sorted(rpm_files - installed - extra):
    bad("RPM %%files lists %s, which meson does not install" % p)
for p in ("vkinferd.socket", "vkinferd.service"):
    if p not in read("debian/rules") or p not in read("packaging/systemd/80-vkinfer.preset"):
        bad("debian/rules and the preset must both decide about %s" % p)
pkgbuild = read("packaging/arch/PKGBUILD")
for b in re.findall(r"backup=\(([^)]*)\)", pkgbuild):
    for p in re.findall(r"'([^']+)'", b):
        need("/" + p, "PKGBUILD backup=")
if shutil.which("bash") and subprocess.call(["bash", "-n", os.path.join(src, "packaging/arch/PKGBUILD")]) != 0:
    bad("PKGBUILD is not valid bash")

# --- every library the build needs is a build dependency of each package ----
meson_files = [os.path.join(d, f) for d, _, fs in os.walk(src) if not os.path.basename(d).startswith("build")
               for f in fs if f == "meson.build"]
pc_names = set()
for mf in meson_files:
    with open(mf, encoding="utf-8") as f:
        pc_names |= set(re.findall(r"(?<![_a-z])dependency\('([^']+)'", f.read()))
pc_names -= {"threads", "systemd"}  # the C library; systemd.pc only names unit folders
control = read("debian/control")
build_depends = re.search(r"^Build-Depends:(.*?)^\S", control, re.M | re.S).group(1)
for name in sorted(pc_names):
    if "pkgconfig(%s)" % name not in read("packaging/rpm/vkinfer.spec"):
        bad("the RPM spec lacks BuildRequires: pkgconfig(%s)" % name)
    if not shutil.which("pkg-config") or not shutil.which("dpkg"):
        continue
    pcdir = subprocess.run(["pkg-config", "--variable=pcfiledir", name], capture_output=True, text=True).stdout.strip()
    owner = subprocess.run(["dpkg", "-S", os.path.join(pcdir, name + ".pc")], capture_output=True, text=True).stdout
    pkg = owner.split(":")[0] if owner else None
    if pkg and not re.search(r"(^|[\s,])%s([\s,(]|$)" % re.escape(pkg), build_depends):
        bad("debian/control Build-Depends lacks %s (holds %s.pc)" % (pkg, name))

# --- the .deb, when given -----------------------------------------------------
if deb:
    listing = subprocess.check_output(["dpkg-deb", "--fsys-tarfile", deb])
    names = subprocess.run(["tar", "-t"], input=listing, capture_output=True, check=True).stdout.decode().split()
    deb_files = set()
    for n in names:
        p = n[1:] if n.startswith("./") else n
        if p.endswith("/") or p.startswith("/usr/share/doc/"):
            continue
        if p.startswith("/lib/systemd/"):
            p = "/usr" + p
        if p.startswith("/usr/share/man/") and p.endswith(".gz"):
            p = p[:-3]
        deb_files.add(p)
    for p in sorted(installed - deb_files):
        bad(".deb misses %s" % p)
    for p in sorted(deb_files - installed):
        bad(".deb holds %s, which meson does not install" % p)
    print("checked %s: %d files" % (os.path.basename(deb), len(deb_files)))

print("%d installed files checked against units, bus files, daemon defaults, RPM, PKGBUILD%s"
      % (len(installed), " and .deb" if deb else ""))
sys.exit(1 if errors else 0)
