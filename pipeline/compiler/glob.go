package compiler

import (
	"io/fs"
	"regexp"
	"strings"
)

// wildcardRegexp turns an include:local wildcard into the regexp GitLab searches the
// repository with (Repository#search_files_by_wildcard_path): `**` matches anything,
// slashes included, and `*` anything but a slash.
func wildcardRegexp(pattern string) (*regexp.Regexp, error) {
	quoted := regexp.QuoteMeta(pattern)
	quoted = strings.ReplaceAll(quoted, `\*\*`, "\x00")
	quoted = strings.ReplaceAll(quoted, `\*`, `[^/]*?`)
	quoted = strings.ReplaceAll(quoted, "\x00", `.*?`)
	return regexp.Compile("^" + quoted + "$")
}

// fnmatch reports whether path matches glob as Ruby's File.fnmatch? does with
// FNM_PATHNAME | FNM_DOTMATCH | FNM_EXTGLOB, the flags GitLab uses for rules:changes and
// rules:exists: `*` and `?` stop at slashes, `**/` spans directories, `{a,b}` alternates.
func fnmatch(glob, path string) bool {
	re, err := globRegexp(glob)
	if err != nil {
		return false
	}
	return re.MatchString(path)
}

func globRegexp(glob string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	braces := 0
	for i := 0; i < len(glob); i++ {
		c := glob[i]
		switch {
		case c == '*' && strings.HasPrefix(glob[i:], "**/"):
			b.WriteString(`(?:[^/]*/)*`)
			i += 2
		case c == '*':
			b.WriteString(`[^/]*`)
		case c == '?':
			b.WriteString(`[^/]`)
		case c == '[':
			end := strings.IndexByte(glob[i+1:], ']')
			if end < 0 {
				b.WriteString(`\[`)
				continue
			}
			class := glob[i+1 : i+1+end]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + class + "]")
			i += end + 1
		case c == '{':
			braces++
			b.WriteString("(?:")
		case c == '}' && braces > 0:
			braces--
			b.WriteString(")")
		case c == ',' && braces > 0:
			b.WriteString("|")
		case c == '\\' && i+1 < len(glob):
			i++
			b.WriteString(regexp.QuoteMeta(glob[i : i+1]))
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// repoFiles lists every file of the repository (not .git), sorted, once.
type repoFiles struct {
	fsys  fs.FS
	files []string
	done  bool
}

func (r *repoFiles) list() []string {
	if r.done {
		return r.files
	}
	r.done = true
	_ = fs.WalkDir(r.fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // an unreadable directory holds no files we can use
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return fs.SkipDir
			}
			return nil
		}
		r.files = append(r.files, p)
		return nil
	})
	return r.files // WalkDir visits in lexical order
}
