"""The PyTorch tutorial "NLP From Scratch: Classifying Names with a Character-Level RNN", rendered from its
structure, in both of its versions: the original one (a hand-written RNN cell of two Linear layers over
torch.cat((input, hidden), 1), one-hot letter tensors, torch.zeros(1, n_hidden), NLLLoss and the manual update
p.data.add_(p.grad.data, alpha=-learning_rate), topk predictions and the confusion matrix) and the current one
(nn.RNN + Linear + LogSoftmax over a Dataset of names, random_split, SGD and clip_grad_norm_). The names files
of data/names/*.txt are replaced by a few names written here.

`main(torch)` takes the library as a parameter: the same source runs on ember and on PyTorch."""
import random
import string
import unicodedata

all_letters = string.ascii_letters + " .,;'"
n_letters = len(all_letters)

NAMES = {
    "English": ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies"],
    "French": ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand"],
    "Italian": ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci"],
    "Japanese": ["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura"],
    "Spanish": ["Garc\u00eda", "Fern\u00e1ndez", "Gonz\u00e1lez", "Rodr\u00edguez", "L\u00f3pez",
                "Mart\u00ednez", "S\u00e1nchez", "P\u00e9rez"],
}


# Turn a Unicode string to plain ASCII, thanks to https://stackoverflow.com/a/518232/2809427
def unicodeToAscii(s):
    return "".join(
        c for c in unicodedata.normalize("NFD", s)
        if unicodedata.category(c) != "Mn"
        and c in all_letters
    )


def original_tutorial(torch, n_iters=300, print_every=50):
    nn = torch.nn

    # Build the category_lines dictionary, a list of names per language
    category_lines = {}
    all_categories = []
    for category, lines in NAMES.items():
        all_categories.append(category)
        category_lines[category] = [unicodeToAscii(line) for line in lines]
    n_categories = len(all_categories)

    # Find letter index from all_letters, e.g. "a" = 0
    def letterToIndex(letter):
        return all_letters.find(letter)

    # Just for demonstration, turn a letter into a <1 x n_letters> Tensor
    def letterToTensor(letter):
        tensor = torch.zeros(1, n_letters)
        tensor[0][letterToIndex(letter)] = 1
        return tensor

    # Turn a line into a <line_length x 1 x n_letters>, or an array of one-hot letter vectors
    def lineToTensor(line):
        tensor = torch.zeros(len(line), 1, n_letters)
        for li, letter in enumerate(line):
            tensor[li][0][letterToIndex(letter)] = 1
        return tensor

    class RNN(nn.Module):
        def __init__(self, input_size, hidden_size, output_size):
            super(RNN, self).__init__()

            self.hidden_size = hidden_size

            self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
            self.i2o = nn.Linear(input_size + hidden_size, output_size)
            self.softmax = nn.LogSoftmax(dim=1)

        def forward(self, input, hidden):
            combined = torch.cat((input, hidden), 1)
            hidden = self.i2h(combined)
            output = self.i2o(combined)
            output = self.softmax(output)
            return output, hidden

        def initHidden(self):
            return torch.zeros(1, self.hidden_size)

    torch.manual_seed(0)
    random.seed(0)
    n_hidden = 128
    rnn = RNN(n_letters, n_hidden, n_categories)

    log = {"letter_J": letterToTensor("J").nonzero().tolist(), "Jones_size": tuple(lineToTensor("Jones").size()),
           "print_Jones_size": str(lineToTensor("Jones").size())}      # print(lineToTensor('Jones').size())
    input = lineToTensor("Albert")
    hidden = torch.zeros(1, n_hidden)
    output, next_hidden = rnn(input[0], hidden)
    log["print_output"] = str(output)                                  # print(output)
    log["first_output"] = output.tolist()[0]

    def categoryFromOutput(output):
        top_n, top_i = output.topk(1)
        category_i = top_i[0].item()
        return all_categories[category_i], category_i

    def randomChoice(items):
        return items[random.randint(0, len(items) - 1)]

    def randomTrainingExample():
        category = randomChoice(all_categories)
        line = randomChoice(category_lines[category])
        category_tensor = torch.tensor([all_categories.index(category)], dtype=torch.long)
        line_tensor = lineToTensor(line)
        return category, line, category_tensor, line_tensor

    criterion = nn.NLLLoss()
    learning_rate = 0.005  # If you set this too high, it might explode. If too low, it might not learn

    def train(category_tensor, line_tensor):
        hidden = rnn.initHidden()

        rnn.zero_grad()

        for i in range(line_tensor.size()[0]):
            output, hidden = rnn(line_tensor[i], hidden)

        loss = criterion(output, category_tensor)
        loss.backward()

        # Add parameters' gradients to their values, multiplied by learning rate
        for p in rnn.parameters():
            p.data.add_(p.grad.data, alpha=-learning_rate)

        return output, loss.item()

    current_loss = 0
    all_losses = []
    for iter in range(1, n_iters + 1):
        category, line, category_tensor, line_tensor = randomTrainingExample()
        output, loss = train(category_tensor, line_tensor)
        current_loss += loss
        if iter % print_every == 0:
            guess, guess_i = categoryFromOutput(output)
            all_losses.append(current_loss / print_every)
            current_loss = 0
    log["all_losses"] = all_losses

    # Just return an output given a line
    def evaluate(line_tensor):
        hidden = rnn.initHidden()

        for i in range(line_tensor.size()[0]):
            output, hidden = rnn(line_tensor[i], hidden)

        return output

    # Keep track of correct guesses in a confusion matrix
    confusion = torch.zeros(n_categories, n_categories)
    n_confusion = 100
    for i in range(n_confusion):
        category, line, category_tensor, line_tensor = randomTrainingExample()
        output = evaluate(line_tensor)
        guess, guess_i = categoryFromOutput(output)
        category_i = all_categories.index(category)
        confusion[category_i][guess_i] += 1

    # Normalize by dividing every row by its sum
    for i in range(n_categories):
        confusion[i] = confusion[i] / confusion[i].sum()
    log["confusion_diag"] = confusion.diag().tolist()

    def predict(input_line, n_predictions=3):
        with torch.no_grad():
            output = evaluate(lineToTensor(input_line))

            # Get top N categories
            topv, topi = output.topk(n_predictions, 1, True)
            predictions = []

            for i in range(n_predictions):
                value = topv[0][i].item()
                category_index = topi[0][i].item()
                predictions.append([value, all_categories[category_index]])
        return predictions

    log["predict_Satoshi"] = [name for _, name in predict("Satoshi")]
    log["predict_values"] = [value for value, _ in predict("Jackson")]
    return log


def current_tutorial(torch, n_epoch=3, batch_size=8):
    nn = torch.nn
    Dataset = torch.utils.data.Dataset

    def letterToIndex(letter):
        # return our out-of-vocabulary character if we encounter a letter unknown to our model
        if letter not in all_letters:
            return all_letters.find("_")
        return all_letters.find(letter)

    def lineToTensor(line):
        tensor = torch.zeros(len(line), 1, n_letters)
        for li, letter in enumerate(line):
            tensor[li][0][letterToIndex(letter)] = 1
        return tensor

    class NamesDataset(Dataset):
        def __init__(self, names):
            labels_set = set()  # set of all classes
            self.data = []
            self.data_tensors = []
            self.labels = []
            self.labels_tensors = []

            for label, lines in names.items():
                labels_set.add(label)
                for name in lines:
                    self.data.append(name)
                    self.data_tensors.append(lineToTensor(unicodeToAscii(name)))
                    self.labels.append(label)

            # Cache the tensor representation of the labels
            self.labels_uniq = sorted(labels_set)
            for idx in range(len(self.labels)):
                temp_tensor = torch.tensor([self.labels_uniq.index(self.labels[idx])], dtype=torch.long)
                self.labels_tensors.append(temp_tensor)

        def __len__(self):
            return len(self.data)

        def __getitem__(self, idx):
            data_item = self.data[idx]
            data_label = self.labels[idx]
            data_tensor = self.data_tensors[idx]
            label_tensor = self.labels_tensors[idx]

            return label_tensor, data_tensor, data_label, data_item

    torch.manual_seed(2024)
    alldata = NamesDataset(NAMES)
    train_set, test_set = torch.utils.data.random_split(alldata, [.85, .15],
                                                        generator=torch.Generator(device="cpu").manual_seed(2024))

    class CharRNN(nn.Module):
        def __init__(self, input_size, hidden_size, output_size):
            super(CharRNN, self).__init__()

            self.rnn = nn.RNN(input_size, hidden_size)
            self.h2o = nn.Linear(hidden_size, output_size)
            self.softmax = nn.LogSoftmax(dim=1)

        def forward(self, line_tensor):
            rnn_out, hidden = self.rnn(line_tensor)
            output = self.h2o(hidden[0])
            output = self.softmax(output)

            return output

    n_hidden = 128
    rnn = CharRNN(n_letters, n_hidden, len(alldata.labels_uniq))
    print_rnn = str(rnn)                                                # print(rnn)

    def label_from_output(output, output_labels):
        top_n, top_i = output.topk(1)
        label_i = top_i[0].item()
        return output_labels[label_i], label_i

    def train(rnn, training_data, n_epoch=10, n_batch_size=64, report_every=50, learning_rate=0.2,
              criterion=nn.NLLLoss()):  # noqa: B008  (as the tutorial writes it)
        """Learn on a batch of training_data for a specified number of iterations and reporting thresholds"""
        # Keep track of losses for plotting
        current_loss = 0
        all_losses = []
        rnn.train()
        optimizer = torch.optim.SGD(rnn.parameters(), lr=learning_rate)

        for iter in range(1, n_epoch + 1):
            rnn.zero_grad()  # clear the gradients

            # create some minibatches
            # we cannot use dataloaders because each of our names is a different length
            batches = list(range(len(training_data)))
            random.shuffle(batches)
            batches = [batches[i:i + n_batch_size] for i in range(0, len(batches), n_batch_size)]

            for idx, batch in enumerate(batches):
                batch_loss = 0
                for i in batch:  # for each example in this batch
                    (label_tensor, text_tensor, label, text) = training_data[i]
                    output = rnn.forward(text_tensor)
                    loss = criterion(output, label_tensor)
                    batch_loss += loss

                # optimize parameters
                batch_loss.backward()
                nn.utils.clip_grad_norm_(rnn.parameters(), 3)
                optimizer.step()
                optimizer.zero_grad()

                current_loss += batch_loss.item() / len(batch)

            all_losses.append(current_loss / len(batches))
            current_loss = 0

        return all_losses

    random.seed(2024)
    all_losses = train(rnn, train_set, n_epoch=n_epoch, n_batch_size=batch_size, learning_rate=0.15)

    def evaluate(rnn, testing_data, classes):
        confusion = torch.zeros(len(classes), len(classes))

        rnn.eval()  # set to eval mode
        with torch.no_grad():  # do not record the gradients during eval phase
            for i in range(len(testing_data)):
                (label_tensor, text_tensor, label, text) = testing_data[i]
                output = rnn(text_tensor)
                guess, guess_i = label_from_output(output, classes)
                label_i = classes.index(label)
                confusion[label_i][guess_i] += 1

        # Normalize by dividing every row by its sum
        for i in range(len(classes)):
            denom = confusion[i].sum()
            if denom > 0:
                confusion[i] = confusion[i] / denom
        return confusion

    confusion = evaluate(rnn, test_set, classes=alldata.labels_uniq)
    return {"split": [len(train_set), len(test_set)], "test_indices": list(test_set.indices),
            "all_losses": all_losses, "confusion_sum": confusion.sum().item(),
            "rnn_keys": list(rnn.state_dict()), "print_rnn": print_rnn}


def main(torch):
    return {"original_" + k: v for k, v in original_tutorial(torch).items()} | {
        "current_" + k: v for k, v in current_tutorial(torch).items()}


if __name__ == "__main__":
    import ember
    print(main(ember))
