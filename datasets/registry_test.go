package datasets

import (
	"slices"
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	want := []string{"cifar10", "cifar100", "cifar100-coarse", "fashion-mnist", "imagefolder", "mnist", "tiny-imagenet"}
	if got := Names(); !slices.Equal(got, want) {
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
	for _, name := range []string{"svhn", "", "mnist2"} {
		train, test, err := Load(name, t.TempDir())
		if err == nil || train != nil || test != nil {
			t.Fatalf("Load(%q) = %v, %v, %v; want an error", name, train, test, err)
		}
		for _, w := range []string{`unknown dataset "` + name + `"`, "mnist", "fashion-mnist", "fashion_mnist", "fmnist",
			"cifar10 (or cifar-10, cifar_10)", "cifar100", "cifar100-coarse", "tiny-imagenet", "imagefolder"} {
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

func TestLoadImageDatasetsByName(t *testing.T) {
	c10, _, _ := cifar10Fixture("cifar-10-batches-bin/")
	c100, _, _ := cifar100Fixture("")
	tiny, _, _ := tinyFixture(t, "tiny-imagenet-200/")
	folder, _, _ := imageFolderFixture(t, "")
	tests := []struct {
		name, path, wantTrain, wantTest string
		classes                         int
	}{
		{"CIFAR-10", c10.writeTar(t, "c10.tar.gz", true), "cifar10/train", "cifar10/test", 10},
		{"cifar-100", c100.writeDir(t), "cifar100/train", "cifar100/test", 100},
		{"cifar100-fine", c100.writeDir(t), "cifar100/train", "cifar100/test", 100},
		{"cifar100-coarse", c100.writeDir(t), "cifar100-coarse/train", "cifar100-coarse/test", 20},
		{"tiny-imagenet", tiny.writeTar(t, "tiny.tar.gz", true), "tiny-imagenet/train", "tiny-imagenet/val", 3},
		{"TinyImageNet", tiny.writeDir(t), "tiny-imagenet/train", "tiny-imagenet/val", 3},
		{"imagefolder", folder.writeTar(t, "f.tar", false), "imagefolder/train", "imagefolder/test", 3},
	}
	for _, tc := range tests {
		train, test, err := LoadWithOptions(tc.name, tc.path, LoadOptions{Workers: 1})
		if err != nil {
			t.Fatalf("Load(%q): %v", tc.name, err)
		}
		if train.Name != tc.wantTrain || test.Name != tc.wantTest || len(train.Classes) != tc.classes {
			t.Errorf("Load(%q): %q %q with %d classes, want %q %q with %d", tc.name, train.Name, test.Name, len(train.Classes), tc.wantTrain, tc.wantTest, tc.classes)
		}
	}
	for _, name := range []string{"cifar10", "cifar100", "cifar100-coarse", "tiny-imagenet", "imagefolder"} {
		_, _, err := Load(name, "")
		wantErr(t, name+" without path", err, name+": no path given")
	}
}
