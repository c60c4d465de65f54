package datasets

import (
	"slices"
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	if got, want := Names(), []string{"fashion-mnist", "mnist"}; !slices.Equal(got, want) {
		t.Fatalf("Names() = %q, want %q", got, want)
	}
}

func TestLoadByName(t *testing.T) {
	dir := t.TempDir()
	writeSynthDataset(t, dir, officialNames, 4, 2)
	tests := []struct {
		name      string
		wantTrain string
		class0    string
	}{
		{"mnist", "mnist/train", "0"},
		{"MNIST", "mnist/train", "0"},
		{"fashion-mnist", "fashion-mnist/train", "T-shirt/top"},
		{"fashion_mnist", "fashion-mnist/train", "T-shirt/top"},
		{" FMNIST ", "fashion-mnist/train", "T-shirt/top"},
	}
	for _, tc := range tests {
		train, test, err := Load(tc.name, dir)
		if err != nil {
			t.Fatalf("Load(%q): %v", tc.name, err)
		}
		if train.Name != tc.wantTrain || train.N != 4 || test.N != 2 || train.Classes[0] != tc.class0 {
			t.Errorf("Load(%q): train %q N=%d class0 %q, test N=%d; want %q N=4 class0 %q, test N=2",
				tc.name, train.Name, train.N, train.Classes[0], test.N, tc.wantTrain, tc.class0)
		}
	}
}

func TestLoadUnknownName(t *testing.T) {
	for _, name := range []string{"cifar10", "", "mnist2"} {
		train, test, err := Load(name, t.TempDir())
		if err == nil || train != nil || test != nil {
			t.Fatalf("Load(%q) = %v, %v, %v; want an error", name, train, test, err)
		}
		for _, w := range []string{`unknown dataset "` + name + `"`, "mnist", "fashion-mnist", "fashion_mnist", "fmnist"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Load(%q) error %q does not contain %q", name, err, w)
			}
		}
	}
}

func TestLoadByNamePassesDir(t *testing.T) {
	_, _, err := Load("fmnist", "/nonexistent/fashion")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/fashion") || !strings.Contains(err.Error(), "dataset-fashion-mnist") {
		t.Fatalf("Load(fmnist, missing dir) error = %v", err)
	}
}
