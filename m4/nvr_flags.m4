# NVR_CHECK_CFLAG(FLAGS, [ACTION-IF-OK], [ACTION-IF-NOT])
# Compiles an empty program with FLAGS added (warnings made errors, so that a
# flag gcc only warns about is treated as unsupported).
AC_DEFUN([NVR_CHECK_CFLAG], [
	AC_MSG_CHECKING([whether $CC accepts $1])
	nvr_cf_save="$CFLAGS"
	CFLAGS="$CFLAGS $1 -Werror"
	AC_LINK_IFELSE([AC_LANG_PROGRAM([], [])],
		[AC_MSG_RESULT([yes]); CFLAGS="$nvr_cf_save"; $2],
		[AC_MSG_RESULT([no]); CFLAGS="$nvr_cf_save"; $3])
])

# NVR_CHECK_LDFLAG(FLAGS, [ACTION-IF-OK], [ACTION-IF-NOT])
AC_DEFUN([NVR_CHECK_LDFLAG], [
	AC_MSG_CHECKING([whether the linker accepts $1])
	nvr_lf_save="$LDFLAGS"
	LDFLAGS="$LDFLAGS $1"
	AC_LINK_IFELSE([AC_LANG_PROGRAM([], [])],
		[AC_MSG_RESULT([yes]); LDFLAGS="$nvr_lf_save"; $2],
		[AC_MSG_RESULT([no]); LDFLAGS="$nvr_lf_save"; $3])
])
