package config

// Kubernetes holds the Kubernetes executor's settings. The executor owns this file.
type Kubernetes struct {
	// Kubeconfig and Context select the cluster; both empty means in-cluster config.
	Kubeconfig string `yaml:"kubeconfig,omitempty"`
	Context    string `yaml:"context,omitempty"`
	Namespace  string `yaml:"namespace"`
	// HelperImage is the kuberunner image run as the "prepare" init container.
	HelperImage string `yaml:"helper_image"`
	// Image is the build image used when the job names none.
	Image string `yaml:"image"`
}
