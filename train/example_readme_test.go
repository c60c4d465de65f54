package train_test

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bnzoo/bnzoo/analysis"
	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/train"
	"github.com/bnzoo/bnzoo/zoo"
)

// The README's library program, kept here so that it compiles and runs: build resnet20 with LeCun's tanh and
// BatchNorm after the activation, train one epoch on a subset of MNIST, predict logits, analyse, save, reload and
// predict again with identical logits. TestReadmeMatchesExample checks that the README shows this body.
func Example_readme() {
	ctx := context.Background()

	// resnet20 with LeCun's tanh, BatchNorm after the activation ("swapped"), for MNIST's 1×28×28 images.
	act, err := layers.ParseActivation("lecun_tanh")
	if err != nil {
		log.Fatal(err)
	}
	cfg := zoo.Config{Arch: "resnet20", Classes: 10, InputShape: [3]int{1, 28, 28},
		Activation: act, Placement: layers.Swapped, Seed: 1}
	model, err := zoo.New(cfg, zoo.Float32)
	if err != nil {
		log.Fatal(err)
	}

	// MNIST comes with the GoMNIST module; keep 20 training and 10 test images of each class.
	trainSet, testSet, err := datasets.Load("mnist", "")
	if err != nil {
		log.Fatal(err)
	}
	trainSet, testSet = datasets.SubsetPerClass(trainSet, 20), datasets.SubsetPerClass(testSet, 10)

	// One epoch of SGD (train.DefaultConfig: lr 0.01, momentum 0.9, weight decay 5e-4).
	tcfg := train.DefaultConfig()
	tcfg.BatchSize = 50
	trainer, err := train.NewTrainer(model, tcfg)
	if err != nil {
		log.Fatal(err)
	}
	defer trainer.Close()
	history, err := trainer.Fit(ctx, trainSet, testSet)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("trained %d epoch on %d images, tested on %d\n", len(history), trainSet.N, testSet.N)

	// Logits of the test images (a Predictor needs no training recipe).
	predictor, err := train.NewPredictor(model, 50)
	if err != nil {
		log.Fatal(err)
	}
	defer predictor.Close()
	out, err := predictor.Predict(ctx, testSet, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("logits: %d images × %d classes\n", out.N, out.Classes)

	// Per-layer saturation, asymmetric saturation, skewness and sparsity on the test images.
	report, _, err := predictor.Analyse(ctx, testSet, analysis.DefaultOptions(), "mnist")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("analysed %d layers\n", len(report.Layers))

	// Save (the file holds the config too), reload and predict again.
	dir, err := os.MkdirTemp("", "bnzoo-readme")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := report.WriteJSON(filepath.Join(dir, "report.json")); err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(dir, "resnet20.safetensors")
	if err := model.Save(path); err != nil {
		log.Fatal(err)
	}
	loaded, err := zoo.Load(path)
	if err != nil {
		log.Fatal(err)
	}
	again, err := train.NewPredictor(loaded, 50)
	if err != nil {
		log.Fatal(err)
	}
	defer again.Close()
	reloaded, err := again.Predict(ctx, testSet, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("identical logits after reloading:", slices.Equal(out.Logits, reloaded.Logits))
	// Output:
	// trained 1 epoch on 200 images, tested on 100
	// logits: 100 images × 10 classes
	// analysed 19 layers
	// identical logits after reloading: true
}

// TestReadmeMatchesExample fails when the README's library program (the go block between the example markers)
// is not the body of Example_readme, unindented by one tab: the README shows only code that compiles and runs.
func TestReadmeMatchesExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const start, end = "<!-- example:start -->", "<!-- example:end -->"
	_, block, ok := strings.Cut(string(readme), start)
	if ok {
		block, _, ok = strings.Cut(block, end)
	}
	if !ok {
		t.Fatalf("README.md has no %s … %s block", start, end)
	}
	_, code, ok := strings.Cut(block, "```go\n")
	if ok {
		code, _, ok = strings.Cut(code, "```")
	}
	if !ok {
		t.Fatal("the README's example block has no ```go … ``` code")
	}
	src, err := os.ReadFile("example_readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "example_readme_test.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var body string
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == "Example_readme" {
			body = string(src[fset.Position(fn.Body.Lbrace).Offset+1 : fset.Position(fn.Body.Rbrace).Offset])
		}
	}
	if body == "" {
		t.Fatal("no Example_readme in example_readme_test.go")
	}
	var lines []string
	for _, l := range strings.Split(strings.Trim(body, "\n"), "\n") {
		lines = append(lines, strings.TrimPrefix(l, "\t"))
	}
	want := strings.Join(lines, "\n") + "\n"
	if code != want {
		gl, wl := strings.Split(code, "\n"), strings.Split(want, "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("README.md's example differs from Example_readme's body at line %d:\nREADME:  %q\nexample: %q\n"+
					"(copy the body of Example_readme, unindented, into the README between the markers)", i+1, g, w)
			}
		}
	}
}
