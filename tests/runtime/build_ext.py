"""Build a one-file C extension against the interpreter that runs this script.

    python3.13t-tricolor tests/runtime/build_ext.py SOURCE.c OUTDIR

Uses the interpreter's own sysconfig (compiler, flags, include directory,
extension suffix), so the module matches the fork it will be loaded into.
"""
import os
import shlex
import subprocess
import sys
import sysconfig

src, outdir = sys.argv[1], sys.argv[2]
name = os.path.splitext(os.path.basename(src))[0]
out = os.path.join(outdir, name + sysconfig.get_config_var("EXT_SUFFIX"))
cmd = (shlex.split(sysconfig.get_config_var("CC"))
       + shlex.split(sysconfig.get_config_var("CFLAGS"))
       + shlex.split(sysconfig.get_config_var("CCSHARED"))
       + ["-Werror", "-I", sysconfig.get_paths()["include"], "-shared", src, "-o", out])
os.makedirs(outdir, exist_ok=True)
print(" ".join(cmd))
sys.exit(subprocess.call(cmd))
