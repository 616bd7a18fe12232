package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	os.Exit(run(".", os.Stdout, os.Stderr))
}

// listedPackage is the part of `go list -json` output darwincheck reads.
type listedPackage struct {
	ImportPath string
	Dir        string
	Name       string
	GoFiles    []string
	CgoFiles   []string
	ImportMap  map[string]string
	Standard   bool
	Module     *struct{ Main bool }
	Error      *struct{ Err string }
}

// darwinkitPrefix is the module whose panicking wrappers are flagged.
const darwinkitPrefix = "github.com/progrium/darwinkit/"

// run checks the module in dir and returns the exit code: 0 clean, 1 type
// errors or panicking calls found, 2 the check itself failed.
func run(dir string, stdout, stderr io.Writer) int {
	pkgs, err := list(dir)
	if err != nil {
		fmt.Fprintln(stderr, "darwincheck:", err)
		return 2
	}
	c := &checker{fset: token.NewFileSet(), done: map[string]*types.Package{}, panics: map[string]bool{}}
	problems := 0
	checked := 0
	for _, p := range pkgs {
		if p.ImportPath == "unsafe" {
			c.done["unsafe"] = types.Unsafe
			continue
		}
		main := p.Module != nil && p.Module.Main
		if p.Error != nil && main {
			fmt.Fprintf(stdout, "%s: %s\n", p.ImportPath, p.Error.Err)
			problems++
			continue
		}
		errs, err := c.check(p, main)
		if err != nil {
			fmt.Fprintln(stderr, "darwincheck:", err)
			return 2
		}
		if main {
			checked++
			for _, e := range errs {
				fmt.Fprintln(stdout, e)
			}
			problems += len(errs)
		}
	}
	if problems > 0 {
		fmt.Fprintf(stdout, "darwincheck: %d problem(s) in %d package(s) checked for darwin/arm64\n", problems, checked)
		return 1
	}
	fmt.Fprintf(stdout, "darwincheck: %d package(s) type-check for darwin/arm64 (%d with dependencies)\n", checked, len(pkgs))
	return 0
}

// list runs go list for darwin/arm64 with cgo; packages come out
// dependencies first.
func list(dir string) ([]*listedPackage, error) {
	cmd := exec.Command("go", "list", "-deps", "-json", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=darwin", "GOARCH=arm64", "CGO_ENABLED=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go list: %w\n%s", err, errb.String())
	}
	var pkgs []*listedPackage
	dec := json.NewDecoder(&out)
	for {
		p := new(listedPackage)
		if err := dec.Decode(p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

type checker struct {
	fset *token.FileSet
	done map[string]*types.Package
	// panics holds "pkgpath.Recv.Method" for darwinkit methods that call
	// objc.WrapAsProtocol.
	panics map[string]bool
}

// importer resolves imports of one package through its ImportMap (vendored
// standard-library paths) to packages already checked.
type importer struct {
	c   *checker
	pkg *listedPackage
}

func (im importer) Import(path string) (*types.Package, error) {
	if mapped, ok := im.pkg.ImportMap[path]; ok {
		path = mapped
	}
	if p, ok := im.c.done[path]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("package %s not checked before %s", path, im.pkg.ImportPath)
}

// check type-checks one package. Errors are returned (as "file:line:col:
// message") only for the module's own packages; dependencies are checked
// only to give their types to the packages that import them.
func (c *checker) check(p *listedPackage, main bool) ([]string, error) {
	var files []*ast.File
	for _, name := range append(append([]string{}, p.GoFiles...), p.CgoFiles...) {
		f, err := parser.ParseFile(c.fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			if main {
				return []string{err.Error()}, nil
			}
			return nil, fmt.Errorf("parsing %s: %w", p.ImportPath, err)
		}
		files = append(files, f)
	}
	if strings.HasPrefix(p.ImportPath, darwinkitPrefix) {
		c.scanPanickers(p.ImportPath, files)
	}
	var errs []string
	conf := types.Config{
		Importer:    importer{c: c, pkg: p},
		FakeImportC: true,
		GoVersion:   "",
		Error: func(err error) {
			if main {
				errs = append(errs, err.Error())
			}
		},
	}
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}, Selections: map[*ast.SelectorExpr]*types.Selection{}}
	if !main {
		info = nil
	}
	pkg, _ := conf.Check(p.ImportPath, c.fset, files, info)
	c.done[p.ImportPath] = pkg
	if main {
		errs = append(errs, c.panickingCalls(files, info)...)
	}
	return errs, nil
}

// scanPanickers records the methods of a darwinkit package whose body calls
// objc.WrapAsProtocol.
func (c *checker) scanPanickers(path string, files []*ast.File) {
	for _, f := range files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv == nil || fd.Body == nil || len(fd.Recv.List) != 1 {
				continue
			}
			recv := fd.Recv.List[0].Type
			if st, ok := recv.(*ast.StarExpr); ok {
				recv = st.X
			}
			rid, ok := recv.(*ast.Ident)
			if !ok {
				continue
			}
			wraps := false
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return !wraps
				}
				fun := call.Fun
				if ix, ok := fun.(*ast.IndexExpr); ok {
					fun = ix.X
				}
				if sel, ok := fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "WrapAsProtocol" {
					if x, ok := sel.X.(*ast.Ident); ok && x.Name == "objc" {
						wraps = true
					}
				}
				return !wraps
			})
			if wraps {
				c.panics[path+"."+rid.Name+"."+fd.Name.Name] = true
			}
		}
	}
}

// panickingCalls reports calls to the recorded darwinkit methods.
func (c *checker) panickingCalls(files []*ast.File, info *types.Info) []string {
	var out []string
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			fn, ok := info.Uses[sel.Sel].(*types.Func)
			if !ok || fn.Pkg() == nil {
				return true
			}
			sig, ok := fn.Type().(*types.Signature)
			if !ok || sig.Recv() == nil {
				return true
			}
			rt := sig.Recv().Type()
			if p, ok := rt.(*types.Pointer); ok {
				rt = p.Elem()
			}
			named, ok := rt.(*types.Named)
			if !ok {
				return true
			}
			key := fn.Pkg().Path() + "." + named.Obj().Name() + "." + fn.Name()
			if c.panics[key] {
				out = append(out, fmt.Sprintf("%s: %s.%s panics in darwinkit v0.5.0 (it passes a struct to objc.WrapAsProtocol); send the selector with objc.Call",
					c.fset.Position(call.Pos()), named.Obj().Name(), fn.Name()))
			}
			return true
		})
	}
	sort.Strings(out)
	return out
}
